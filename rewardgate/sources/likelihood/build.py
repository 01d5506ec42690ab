"""Likelihood sources from the pipeline file's ``kind: likelihood`` models.

``build_likelihood_sources(specs, settings, metrics)`` takes the likelihood
models to serve (name -> :class:`ModelSpec` of ``kind: likelihood``; any
other kind is refused: rewardgate/sources/model/build.py builds those), the
settings the batcher reads and the service's metrics, as the model kind's
build does. It returns one :class:`LikelihoodSource` per spec keyed by
``SourceKey("model", name)`` (a likelihood model is a model of the file, and
components name it ``model:``): the in-process backend, or the span backend
on Triton for ``backend: triton``, behind the model kind's dynamic batcher.
Its ``recorder`` is None: whoever holds the reward monitor connects it
(rewardgate/assembly/build.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.likelihood.source import LikelihoodSource
from rewardgate.sources.likelihood.triton_backend import LikelihoodTritonBackend
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.build import BatcherSettings, dynamic_batcher
from rewardgate.sources.model.spec import ModelSpec


def build_likelihood_sources(
    specs: Mapping[str, ModelSpec], settings: BatcherSettings, metrics: Metrics
) -> dict[SourceKey, LikelihoodSource]:
    """One likelihood source per spec (module docstring); ValueError for a spec of another kind."""
    others = sorted(name for name, spec in specs.items() if spec.kind != "likelihood")
    if others:
        raise ValueError(f"models {others} are not kind: likelihood (sources/model/build.py)")
    return {
        SourceKey("model", name): likelihood_source(name, spec, settings, metrics)
        for name, spec in specs.items()
    }


def likelihood_source(
    name: str, spec: ModelSpec, settings: BatcherSettings, metrics: Metrics
) -> LikelihoodSource:
    """The source of likelihood model ``name``: its backend behind its batcher."""
    backend = LikelihoodTritonBackend(name, spec) if spec.backend == "triton" else LocalBackend(name, spec)
    return LikelihoodSource(
        SourceKey("model", name),
        spec=spec,
        backend=backend,
        batcher=dynamic_batcher(name, spec, backend, settings, metrics),
    )
