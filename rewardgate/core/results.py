"""What a score or compare call answers, independent of any transport.

The scorer returns these plain dataclasses; each transport encodes them once
at its edge: HTTP JSON with orjson (which writes a dataclass's fields in
declaration order, exactly the shape docs/api.md and the ``ScoreResponse``
schema document), gRPC by building the protobuf messages directly. Nothing is
validated on the way out: the scorer built the values.

The per-item shapes (``ItemResult``, ``ItemError``, ``StepRewards``, ``PairResult``)
are plain dataclasses, not ``slots=True``: orjson writes an instance from its
``__dict__`` in one pass but reads a slotted one field by field, about three
times the work for a 64-item reply (docs/benchmarks.md, session 10). The bytes
are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class ItemError:
    """Why one component of an item has no value."""

    type: str
    message: str
    retryable: bool


@dataclass
class StepRewards:
    rewards: list[float]
    deltas: list[float]


@dataclass
class ItemResult:
    id: str
    reward: float | None
    status: str  # "ok", "partial" or "error"
    components: dict[str, float] | None
    errors: dict[str, ItemError] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    steps: dict[str, StepRewards] | None = None
    #: The explanation tree as plain data (``{"name", "op", "value", "formula", "inputs"}``).
    explanation: dict[str, Any] | None = None


@dataclass
class StageTimings:
    """Seconds per stage of one call, for metrics and the x-*-time response headers."""

    queue_s: float = 0.0
    inference_s: float = 0.0
    total_s: float = 0.0


@dataclass(slots=True)
class Usage:
    items: int
    cache_hits: int
    model_tokens: int
    judge_tokens: int = 0


@dataclass(slots=True)
class ScoreReply:
    pipeline: str
    pipeline_hash: str
    results: list[ItemResult]
    usage: Usage
    versions: dict[str, str]


@dataclass
class PairResult:
    id: str
    probability: float | None
    status: str
    a: ItemResult
    b: ItemResult


@dataclass(slots=True)
class CompareReply:
    pipeline: str
    pipeline_hash: str
    results: list[PairResult]
    usage: Usage


def to_json(value: Any) -> bytes:
    """The HTTP reply body of an outcome (or any plain value)."""
    return orjson.dumps(value)


@dataclass(slots=True)
class ComponentInfo:
    """One component of a declared pipeline, as ``GET /v1/pipelines`` and ``ListPipelines`` show it."""

    kind: str  # "model", "rule", "judge", "ensemble", "route" or "group"
    source: str | None  # "model:NAME", "rule:NAME", "judge:NAME"; None for ensembles and routes
    head: int | str
    required: bool
    weight: float
    transforms: list[str]
    #: A transform compares each item with its group's mean (``ref: group_mean``): the whole group
    #: must be in one request.
    group_relative: bool = False


@dataclass(slots=True)
class PipelineInfo:
    """A declared pipeline, its components and whether every source it can reach is ready."""

    name: str
    description: str
    hash: str
    ready: bool
    components: dict[str, ComponentInfo]
