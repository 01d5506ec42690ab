"""Evaluate pipelines in-process over items whose component values are chosen.

``number`` is a real rule (known to the registry while a runtime is built) that returns
``float(item.metadata[key])``, so a test can give every component any value
and check the algebra's arithmetic by hand. Evaluation goes through the real
runtime, fan-out, in-memory cache and evaluator.
"""

from __future__ import annotations

import asyncio
import time

from service.algebra.explain import tracer_for
from service.config import parse_config
from service.items import ScoringItem
from service.observability.metrics import Metrics
from service.scoring.cache import InMemoryScoreCache
from service.scoring.evaluator import EvalContext, Evaluator, ItemOutcome
from service.scoring.fanout import Fanout
from service.scoring.runtime import ScoringRuntime
from service.scoring.single_flight import SingleFlight
from service.settings import Settings
from service.sources.rule.base import Rule, RuleParams
from service.sources.rule.registry import RULE_TYPES


class NumberParams(RuleParams):
    key: str


class NumberRule(Rule):
    """``float(metadata[key])``: a rule whose score the test chooses."""

    type_name = "number"
    Params = NumberParams
    reads = ("metadata",)

    def evaluate(self, item: ScoringItem) -> float:
        return float(item.metadata[self.params.key])


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
) -> list[ItemOutcome]:
    """Outcomes of ``pipeline`` over one item per ``values`` mapping (metadata)."""
    runtime = runtime or build_runtime(config)
    items = [ScoringItem("", responses[i] if responses else "", None, dict(v)) for i, v in enumerate(values)]
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
