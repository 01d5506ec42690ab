"""Evaluate pipelines in-process over items whose component values are chosen.

``number`` is a real rule (known to the registry while a runtime is built) that returns
``float(item.metadata[key])``, so a test can give every component any value
and check the algebra's arithmetic by hand. Evaluation goes through the real
runtime, fan-out, in-memory cache and evaluator.
"""

from __future__ import annotations

import asyncio
import math
import time

from rewardgate.algebra.explain import tracer_for
from rewardgate.config.pipeline_file import parse_config
from rewardgate.config.settings import Settings
from rewardgate.core.runtime import ScoringRuntime
from rewardgate.errors import InvalidReference, VerifierTimeout, VerifierUnavailable
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.pipeline.evaluator import EvalContext, Evaluator, ScoredItem
from rewardgate.sources.rule.base import Rule, RuleParams
from rewardgate.sources.rule.registry import RULE_TYPES
from rewardgate.store.cache import InMemoryScoreCache
from rewardgate.store.fanout import Fanout
from rewardgate.store.single_flight import SingleFlight


class NumberParams(RuleParams):
    key: str
    #: The rule's documented range (its failure value's default is read from it).
    low: float = -math.inf
    high: float = math.inf


#: Metadata values that make the ``number`` rule fail with a chosen cause.
FAILURES = {
    "timeout": VerifierTimeout,  # the response's
    "unavailable": VerifierUnavailable,  # the service's
    "no_reference": InvalidReference,  # the caller's
}


class NumberRule(Rule):
    """``float(metadata[key])``: a rule whose score the test chooses; a value named in
    :data:`FAILURES` raises that failure, any other text is a ``verifier_error``."""

    type_name = "number"
    Params = NumberParams
    reads = ("metadata",)

    @property
    def score_range(self) -> tuple[float, float]:
        return (self.params.low, self.params.high)

    def grade(self, item: ScoringItem) -> float:
        value = item.metadata[self.params.key]
        if isinstance(value, str) and value in FAILURES:
            raise FAILURES[value](f"chosen failure {value}")
        return float(value)


def number_rules(*keys: str) -> dict:
    return {key: {"type": "number", "key": key} for key in keys}


def evaluate(
    config: dict,
    pipeline: str,
    values: list[dict[str, float]],
    *,
    groups: list[str | None] | None = None,
    weights: dict[str, float] | None = None,
    explain: bool = False,
    runtime: ScoringRuntime | None = None,
    responses: list[str] | None = None,
    references: list[str] | None = None,
) -> list[ScoredItem]:
    """Scored items of ``pipeline`` over one item per ``values`` mapping (metadata)."""
    runtime = runtime or build_runtime(config)
    items = [
        ScoringItem("", responses[i] if responses else "", references[i] if references else None, dict(v))
        for i, v in enumerate(values)
    ]
    metrics = Metrics()
    ctx = EvalContext(
        Fanout(InMemoryScoreCache(1000, {"model": 60, "rule": 60}), SingleFlight(), metrics),
        runtime.pipelines,
        runtime.stats,
        deadline=time.monotonic() + 30,
        tracer=tracer_for(explain),
    )
    return asyncio.run(
        Evaluator(ctx).evaluate(runtime.pipelines[pipeline], items, groups or [None] * len(items), weights)
    )


def build_runtime(config: dict) -> ScoringRuntime:
    """Runtime for ``config``; the ``number`` rule type is known only while it is built."""
    RULE_TYPES["number"] = NumberRule
    try:
        return ScoringRuntime(parse_config(config), Settings(), Metrics())
    finally:
        del RULE_TYPES["number"]
