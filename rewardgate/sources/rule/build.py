"""Rule sources from the pipeline file's ``rules:`` entries, and the verifier pool they share.

``build_rule_sources(specs, settings, metrics)`` is the one place that turns
rule specs into sources. It takes the rules to serve (name -> :class:`RuleSpec`,
only those the pipelines use), the settings it reads (:class:`PoolSettings`:
the pool's size and worker recycling) and the service's metrics (the pool's
gauges and restart counter, the rules' durations). It returns
:class:`RuleSources`: one :class:`RuleSource` per spec keyed by
``SourceKey("rule", name)``, and the :class:`VerifierPool` the isolated rules
run in, or None when every rule runs inline (a file of inline rules starts no
processes). The pool is created, not started: its owner warms, supervises and
closes it (rewardgate/core/runtime.py). An unknown type or invalid parameters
raise what :func:`build_rule` raises (the file's checks report them first).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.rule.base import warm_up_rules
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.source import RuleSource
from rewardgate.sources.rule.spec import RuleSpec


class PoolSettings(Protocol):
    """The settings rule sources read (``REWARDGATE_VERIFIER_*``, docs/configuration.md)."""

    verifier_workers: int
    verifier_max_tasks_per_worker: int


@dataclass(frozen=True)
class RuleSources:
    """Built rule sources, and the verifier pool their isolated rules share (None: none isolated)."""

    sources: dict[SourceKey, RuleSource]
    pool: VerifierPool | None


def build_rule_sources(
    specs: Mapping[str, RuleSpec], settings: PoolSettings, metrics: Metrics
) -> RuleSources:
    """One rule source per spec, and the verifier pool if any rule is isolated (module docstring)."""
    rules = {name: build_rule(spec.type, spec.params) for name, spec in specs.items()}
    isolated = tuple(rule for rule in rules.values() if rule.isolated)
    pool = (
        VerifierPool(
            settings.verifier_workers,
            settings.verifier_max_tasks_per_worker,
            functools.partial(warm_up_rules, isolated),
            on_restart=metrics.verifier_pool_restarts.inc,
        )
        if isolated
        else None
    )
    if pool is not None:
        metrics.verifier_workers.set(pool.workers)
        metrics.verifier_busy.set_function(lambda: pool.busy)
        metrics.verifier_queued.set_function(lambda: pool.queued)
    sources: dict[SourceKey, RuleSource] = {}
    for name, rule in rules.items():
        key = SourceKey("rule", name)
        sources[key] = RuleSource(key, rule=rule, pool=pool, metrics=metrics)
    return RuleSources(sources, pool)
