"""The pipeline owns its reward (docs/reward-algebra.md#caller-options): what a request may
change is declared with finite bounds, and the arithmetic never overflows into an exception."""

import math

import pytest

from rewardgate.algebra import functions as fn
from rewardgate.config.pipeline_file import parse_config
from rewardgate.errors import ConfigError
from tests.support.algebra import evaluate, number_rules

RULES = {"a": {"type": "exact_match"}, "b": {"type": "exact_match"}}


def rejected(overridable: dict) -> str:
    pipeline = {"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}, "overridable": overridable}
    with pytest.raises(ConfigError) as caught:
        parse_config({"rules": RULES, "pipelines": {"p": pipeline}})
    return str(caught.value)


@pytest.mark.parametrize(
    ("bounds", "says"),
    [
        ([-1e308, 1e308], "magnitude at most"),
        ([0, math.inf], "finite"),
        ([1, -1], "lowest <= highest"),
    ],
)
def test_unbounded_or_inverted_bounds_are_refused_at_start_up(bounds, says):
    message = rejected({"weights": {"a": bounds}})
    assert "pipelines.p.overridable.weights" in message and says in message


def test_an_overridable_weight_must_name_a_component():
    message = rejected({"weights": {"zz": [-1, 1]}})
    assert "pipelines.p.overridable.weights.zz: not a component of this pipeline" in message


def test_overridable_is_hashed_and_left_out_of_dumps_when_unset():
    base = {"components": {"a": {"rule": "a"}}}
    plain = parse_config({"rules": RULES, "pipelines": {"p": base}})
    declared = parse_config(
        {"rules": RULES, "pipelines": {"p": {**base, "overridable": {"weights": {"a": [0, 1]}}}}}
    )
    assert plain.pipeline_hash("p") != declared.pipeline_hash("p")
    assert "overridable" not in plain.pipelines["p"].model_dump(mode="json")


def test_sums_that_overflow_are_non_finite_values_not_exceptions():
    assert fn.combine_terms({"a": 1e308, "b": 1e308}, "weighted_sum") == math.inf
    assert fn.finite_sum([1e308, 1e308, -1e308]) == math.inf  # plain sum once fsum overflows
    cfg = {
        "rules": number_rules("a", "b"),
        "pipelines": {"p": {"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}}},
    }
    (scored_item,) = evaluate(cfg, "p", [{"a": 1e308, "b": 1e308}])
    assert (scored_item.status, scored_item.reward) == ("error", None)
    assert scored_item.errors["reward"].error_type == "reward_computation"
