"""Model sources from the pipeline file's ``models:`` entries: a backend behind a dynamic batcher.

``build_model_sources(specs, settings, metrics)`` takes the models to serve
(name -> :class:`ModelSpec`, only those the pipelines use; ``kind:
likelihood`` models are rewardgate/sources/likelihood/build.py's and are
refused here), the settings it reads (:class:`BatcherSettings`: the
``Retry-After`` of a full queue) and the service's metrics (each batcher's
observer). It returns one :class:`ModelSource` per spec keyed by
``SourceKey("model", name)``: an in-process backend, or Triton's for
``backend: triton``, behind a :class:`DynamicBatcher` sized by the spec's
``batching:`` block. Nothing loads here: the owner starts each source
(rewardgate/core/runtime.py loads them in the background).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.model.backends.base import ModelBackend
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.backends.triton import TritonBackend
from rewardgate.sources.model.batching.batcher import DynamicBatcher
from rewardgate.sources.model.source import ModelSource
from rewardgate.sources.model.spec import ModelSpec


class BatcherSettings(Protocol):
    """The settings model sources read (``REWARDGATE_OVERLOAD_RETRY_AFTER_S``, docs/configuration.md)."""

    overload_retry_after_s: float


def build_model_sources(
    specs: Mapping[str, ModelSpec], settings: BatcherSettings, metrics: Metrics
) -> dict[SourceKey, ModelSource]:
    """One model source per spec (module docstring); ValueError for a ``kind: likelihood`` spec."""
    likelihood = sorted(name for name, spec in specs.items() if spec.kind == "likelihood")
    if likelihood:
        # Built here it would lack the span backend on Triton and the monitor's recorder.
        raise ValueError(f"models {likelihood} are kind: likelihood (sources/likelihood/build.py)")
    return {
        SourceKey("model", name): model_source(name, spec, settings, metrics) for name, spec in specs.items()
    }


def model_source(name: str, spec: ModelSpec, settings: BatcherSettings, metrics: Metrics) -> ModelSource:
    """The source of model ``name``: its backend behind its batcher."""
    backend = triton_backend(name, spec) if spec.backend == "triton" else LocalBackend(name, spec)
    return ModelSource(
        SourceKey("model", name),
        spec=spec,
        backend=backend,
        batcher=dynamic_batcher(name, spec, backend, settings, metrics),
    )


def triton_backend(name: str, spec: ModelSpec) -> ModelBackend:
    """The gateway side on Triton for the spec's kind: a VLM reward model sends its images too."""
    if spec.kind == "vision_reward_model":
        from rewardgate.sources.model.backends.triton_vision import VisionTritonBackend

        return VisionTritonBackend(name, spec)
    return TritonBackend(name, spec)


def dynamic_batcher(
    name: str, spec: ModelSpec, backend: ModelBackend, settings: BatcherSettings, metrics: Metrics
) -> DynamicBatcher:
    """The batcher in front of ``backend``, sized by the spec's ``batching:`` block (likelihood
    models too)."""
    return DynamicBatcher(
        name,
        backend.infer,
        max_batch_items=spec.batching.max_batch_items,
        max_batch_tokens=spec.batching.max_batch_tokens,
        max_wait_ms=spec.batching.max_wait_ms,
        max_concurrent_batches=spec.batching.max_concurrent_batches,
        overlap_partial_batches=spec.batching.overlap_partial_batches,
        max_queue_items=spec.batching.max_queue_items,
        retry_after_s=settings.overload_retry_after_s,
        observer=metrics.batch_observer(name),
    )
