"""Judge sources from the pipeline file's ``judges:`` entries.

``build_judge_sources(specs, metrics, on_orders=None)`` takes the judges to
serve (name -> :class:`JudgeSpec`, only those the pipelines use), the
service's metrics (each judge client's calls, latency, tokens, breaker) and
optionally ``on_orders(judge, first, second)``, which sees every pairwise
verdict asked in both orders (the reward monitor's position-bias figures).
It returns one :class:`JudgeSource` per spec keyed by
``SourceKey("judge", name)``, each with its own :class:`JudgeClient`
(bulkhead, budgets, breaker). Nothing connects here: the client opens its
connections on first use, and the owner closes the sources.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.judge.client import JudgeClient
from rewardgate.sources.judge.source import JudgeSource
from rewardgate.sources.judge.spec import JudgeSpec

#: ``on_orders(judge, first, second)``: a pairwise verdict's P(response better) in each order.
OrdersObserver = Callable[[str, float, float], None]


def build_judge_sources(
    specs: Mapping[str, JudgeSpec], metrics: Metrics, on_orders: OrdersObserver | None = None
) -> dict[SourceKey, JudgeSource]:
    """One judge source per spec, each with its own client (module docstring)."""
    sources: dict[SourceKey, JudgeSource] = {}
    for name, spec in specs.items():
        key = SourceKey("judge", name)
        sources[key] = JudgeSource(
            key,
            spec=spec,
            client=JudgeClient(name, spec, metrics),
            on_orders=functools.partial(on_orders, name) if on_orders else None,
        )
    return sources
