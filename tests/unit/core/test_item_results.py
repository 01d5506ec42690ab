"""The scorer's per-item results: the one-pass loop against :meth:`RewardScorer._result`."""

from __future__ import annotations

import itertools

import pytest

from rewardgate.algebra.explain import ExplainNode
from rewardgate.core.calls import CallOptions
from rewardgate.core.scorer import RewardScorer
from rewardgate.errors import JudgeTimeout
from rewardgate.pipeline.columns import ScoredItem, StepDetail


def scored_items() -> list[ScoredItem]:
    return [
        ScoredItem("ok", 1.0, {"a": 1.0}, cached=["a"]),
        ScoredItem("ok", -0.0, {"a": -0.0, "b": 2.0}, cached=[]),
        ScoredItem("partial", 0.5, {"a": 0.5}, errors={"b": JudgeTimeout("slow")}, cached=["a"]),
        ScoredItem("error", None, {}, errors={"a": JudgeTimeout("x")}),
        ScoredItem("ok", 2.0, {"a": 2.0}, steps={"a": StepDetail([1.0, 2.0], [1.0, 1.0])}, cached=["a"]),
        ScoredItem("ok", 3.0, {"a": 3.0}, explanation=ExplainNode("a", 3.0, name="a"), cached=["a"]),
    ]


@pytest.mark.parametrize(
    ("return_components", "return_steps", "explain"), list(itertools.product([True, False], repeat=3))
)
def test_results_in_one_pass_are_what_result_makes_of_each_item(return_components, return_steps, explain):
    options = CallOptions(return_components=return_components, return_steps=return_steps, explain=explain)
    items = scored_items()
    ids = [str(i) for i in range(len(items))]
    results, statuses, cache_hits = RewardScorer._results(ids, items, options)
    assert results == [RewardScorer._result(i, s, options) for i, s in zip(ids, items, strict=True)]
    assert statuses == {"ok": 4, "partial": 1, "error": 1}
    assert cache_hits == sum(len(r.cached) for r in results) == 4
