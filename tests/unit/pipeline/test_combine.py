"""Stage 4, combine, on hand-built columns: an item's reward from its component cells.

The pipeline plans come from a real runtime (tests/support/algebra.py); the
columns do not: each test writes the cells, errors and MISSING entries the
earlier stages would have made, and checks the combination alone. A failed
required component is an error with no reward, never a stand-in 0; a
non-finite combination is an error too.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from rewardgate.algebra.explain import tracer_for
from rewardgate.errors import JudgeTimeout
from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import MISSING, Cell
from rewardgate.pipeline.combine import ItemCombiner
from tests.support.algebra import build_runtime, number_rules

ITEM = ScoringItem("p", "a response", None, {})


def pipeline(spec: dict, *rules: str):
    runtime = build_runtime({"rules": number_rules(*(rules or ("a", "b"))), "pipelines": {"p": spec}})
    return runtime.pipelines["p"]


def finish(plan, columns: dict, index: int = 0, explain: bool = False):
    return ItemCombiner(tracer_for(explain)).finish(plan, index, ITEM, columns, plan.weights)


def test_weighted_sum_of_the_cells():
    plan = pipeline(
        {"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}, "combine": {"weights": {"a": 2.0, "b": 0.5}}}
    )
    scored_item = finish(plan, {"a": [Cell(1.0)], "b": [Cell(4.0)]})
    assert (scored_item.status, scored_item.reward, scored_item.components) == (
        "ok",
        4.0,
        {"a": 1.0, "b": 4.0},
    )


def test_product_and_min_combinations():
    for kind, expected in (("product", 0.375), ("min", 0.5)):
        plan = pipeline({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}, "combine": {"type": kind}})
        assert finish(plan, {"a": [Cell(0.5)], "b": [Cell(0.75)]}).reward == pytest.approx(expected)


def test_a_failed_required_component_is_an_error_with_no_reward():
    plan = pipeline({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}})
    failure = JudgeTimeout("no verdict")
    scored_item = finish(plan, {"a": [Cell(1.0)], "b": [failure]})
    assert (scored_item.status, scored_item.reward) == ("error", None)
    assert scored_item.errors == {"b": failure}


def test_a_failed_optional_component_leaves_a_partial_reward_from_the_rest():
    plan = pipeline(
        {
            "components": {"a": {"rule": "a"}, "b": {"rule": "b", "required": False}},
            "combine": {"weights": {"a": 1.0, "b": 1.0}},
        }
    )
    scored_item = finish(plan, {"a": [Cell(0.25)], "b": [MISSING]})
    assert (scored_item.status, scored_item.reward, scored_item.errors) == ("partial", 0.25, {})


def test_no_weighted_value_is_an_error_not_zero():
    plan = pipeline(
        {
            "components": {"a": {"rule": "a", "required": False}, "b": {"rule": "b", "required": False}},
            "combine": {"weights": {"a": 1.0}},
        }
    )
    scored_item = finish(plan, {"a": [JudgeTimeout("x")], "b": [Cell(1.0)]})
    assert (scored_item.status, scored_item.reward) == ("error", None)
    assert scored_item.errors["reward"].error_type == "invalid_component_input"


def test_a_closed_gate_replaces_the_gated_value():
    plan = pipeline(
        {
            "components": {"a": {"rule": "a", "required": False}, "b": {"rule": "b"}},
            "combine": {"weights": {"b": 1.0}},
            "gates": [{"components": ["b"], "if": "a >= 1", "otherwise": 0.25}],
        }
    )
    closed = finish(plan, {"a": [Cell(0.0)], "b": [Cell(0.9)]})
    assert (closed.reward, closed.gated, closed.components["b"]) == (0.25, ["b"], 0.9)
    opened = finish(plan, {"a": [Cell(1.0)], "b": [Cell(0.9)]})
    assert (opened.reward, opened.gated) == (0.9, [])
    unknown = finish(plan, {"a": [MISSING], "b": [Cell(0.9)]})
    assert unknown.reward == 0.25  # a gate whose control has no value stays closed


def test_the_first_violated_constraint_sets_the_reward():
    plan = pipeline(
        {
            "components": {"a": {"rule": "a"}, "b": {"rule": "b", "required": False}},
            "combine": {"weights": {"a": 1.0}},
            "constraints": [{"if": "b > 0", "reward": -1.0, "name": "b_fired"}],
        }
    )
    assert finish(plan, {"a": [Cell(0.5)], "b": [Cell(0.0)]}).reward == 0.5
    violated = finish(plan, {"a": [Cell(0.5)], "b": [Cell(2.0)]})
    assert (violated.reward, violated.violated) == (-1.0, "b_fired")
    unknown = finish(plan, {"a": [Cell(0.5)], "b": [MISSING]})
    assert unknown.reward == -1.0  # a constraint that cannot be checked holds against the item


def test_a_non_finite_combination_is_an_error():
    plan = pipeline({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}, "combine": {"type": "product"}})
    scored_item = finish(plan, {"a": [Cell(1e300)], "b": [Cell(1e300)]})
    assert (scored_item.status, scored_item.reward) == ("error", None)
    assert scored_item.errors["reward"].error_type == "reward_computation"


def test_each_item_reads_its_own_row():
    plan = pipeline({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}})
    columns = {"a": [Cell(1.0), Cell(2.0)], "b": [Cell(10.0), JudgeTimeout("x")]}
    assert finish(plan, columns, 0).reward == 11.0
    assert finish(plan, columns, 1).status == "error"


def test_explaining_records_the_formula_and_changes_no_value():
    plan = pipeline({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}})
    columns = {"a": [Cell(0.5)], "b": [Cell(0.25)]}
    plain, explained = finish(plan, columns), finish(plan, columns, explain=True)
    assert plain.reward == explained.reward == 0.75
    assert plain.explanation is None  # the default tracer builds nothing
    assert math.isclose(explained.explanation.to_dict()["value"], 0.75)


@pytest.mark.parametrize("combine_type", ["weighted_sum", "product", "min"])
def test_finish_all_scores_every_item_as_finish_does(combine_type):
    """The request-wide loop (plain items read the pipeline once) gives each item what
    finish() gives it: plain items, failed ones, a zero weight, an overflow to infinity."""
    plan = pipeline(
        {
            "components": {"a": {"rule": "a"}, "b": {"rule": "b", "required": False}, "c": {"rule": "c"}},
            "combine": {"type": combine_type, "weights": {"c": 0.0, "b": 0.5, "a": 2.0}},
        },
        "a",
        "b",
        "c",
    )
    columns = {
        "a": [Cell(1.0), Cell(0.25), JudgeTimeout("x"), Cell(1e308), Cell(-3.0)],
        "b": [Cell(4.0), MISSING, Cell(1.0), Cell(1e308), Cell(0.125)],
        "c": [Cell(7.0), Cell(1.0), Cell(1.0), Cell(1.0), Cell(2.0)],
    }
    items = [ScoringItem("p", f"response {i}", None, {}) for i in range(5)]
    combiner = ItemCombiner(tracer_for(False))
    one_by_one = [combiner.finish(plan, i, item, columns, plan.weights) for i, item in enumerate(items)]
    together = combiner.finish_all(plan, items, columns, plan.weights)

    def seen(scored_item):  # errors are exceptions, equal only to themselves: compare what they say
        errors = {name: (type(e), str(e)) for name, e in scored_item.errors.items()}
        return (replace(scored_item, errors={}), errors)

    assert [seen(s) for s in together] == [seen(s) for s in one_by_one]
    overflow = "ok" if combine_type == "min" else "error"
    assert [s.status for s in together] == ["ok", "partial", "error", overflow, "ok"]


@pytest.mark.parametrize("combine_type", ["weighted_sum", "product", "min"])
@pytest.mark.parametrize("weight", [1.0, -0.5, 2.0])
def test_finish_all_of_one_component_scores_every_item_as_finish_does(combine_type, weight):
    """A one-component pipeline's loop (the term is its own reduction) gives each item what
    finish() gives it, bit for bit: -0.0 (fsum makes it 0.0), overflow, NaN, failures."""
    plan = pipeline(
        {"components": {"a": {"rule": "a"}}, "combine": {"type": combine_type, "weights": {"a": weight}}}, "a"
    )
    values = [1.0, -0.0, 0.0, 0.25, 1e308, -1e308, math.inf, math.nan, 5e-324, -3.0]
    columns = {"a": [Cell(v) for v in values] + [JudgeTimeout("x"), MISSING]}
    items = [ScoringItem("p", f"response {i}", None, {}) for i in range(len(columns["a"]))]
    combiner = ItemCombiner(tracer_for(False))
    one_by_one = [combiner.finish(plan, i, item, columns, plan.weights) for i, item in enumerate(items)]
    together = combiner.finish_all(plan, items, columns, plan.weights)

    def seen(scored_item):  # bits of the reward (-0.0 and NaN included), errors by what they say
        errors = {name: (type(e), str(e)) for name, e in scored_item.errors.items()}
        reward = None if scored_item.reward is None else math.copysign(1.0, scored_item.reward)
        return (repr(scored_item.reward), reward, replace(scored_item, errors={}, reward=0), errors)

    assert [seen(s) for s in together] == [seen(s) for s in one_by_one]
    assert {s.status for s in together} == {"ok", "error"}
