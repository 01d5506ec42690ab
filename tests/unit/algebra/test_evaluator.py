"""The evaluator's arithmetic and status rules, with hand-computed values."""

import math

import pytest

from rewardgate.errors import InvalidReference
from tests.support.algebra import evaluate, number_rules


def config(pipeline: dict, keys=("a", "b", "c")) -> dict:
    return {"rules": number_rules(*keys), "pipelines": {"p": pipeline}}


def test_weighted_sum_with_declared_weights_ignores_unweighted_components():
    cfg = config({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}, "combine": {"weights": {"a": 2.0}}})
    (scored_item,) = evaluate(cfg, "p", [{"a": 1.5, "b": 100.0}])
    assert (scored_item.status, scored_item.reward) == ("ok", 3.0)
    assert scored_item.components == {"a": 1.5, "b": 100.0}


def test_request_weights_override_named_components_only():
    cfg = config(
        {"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}, "combine": {"weights": {"a": 1, "b": 1}}}
    )
    (scored_item,) = evaluate(cfg, "p", [{"a": 2.0, "b": 3.0}], weights={"b": -1.0})
    assert scored_item.reward == pytest.approx(2.0 - 3.0)


def test_weighted_ensemble_then_affine():
    cfg = config(
        {
            "components": {
                "a": {"rule": "a"},
                "b": {"rule": "b"},
                "e": {
                    "ensemble": {
                        "members": ["a", "b"],
                        "aggregate": "weighted",
                        "weights": {"a": 3, "b": 1},
                        "standardize": False,
                    },
                    "transform": {"type": "affine", "scale": 10, "shift": -1},
                },
            }
        }
    )
    (scored_item,) = evaluate(cfg, "p", [{"a": 1.0, "b": 5.0}])
    assert scored_item.reward == pytest.approx(10 * (3 * 1 + 5) / 4 - 1)  # members are not counted again


def test_running_standardisation_updates_then_applies():
    cfg = config({"components": {"a": {"rule": "a", "transform": {"type": "standardize"}}}})
    scored_items = evaluate(cfg, "p", [{"a": 1.0}, {"a": 3.0}])
    assert [o.reward for o in scored_items] == pytest.approx([-1.0, 1.0])  # mean 2, population std 1


def test_log_sigmoid_with_fixed_reference():
    cfg = config({"components": {"a": {"rule": "a", "transform": {"type": "log_sigmoid", "ref": 1.5}}}})
    (scored_item,) = evaluate(cfg, "p", [{"a": 2.0}])
    assert scored_item.reward == pytest.approx(math.log(1 / (1 + math.exp(-0.5))))


def test_group_mean_reference_uses_only_the_items_group():
    cfg = config({"components": {"a": {"rule": "a", "transform": {"type": "par", "ref": "group_mean"}}}})
    scored_items = evaluate(cfg, "p", [{"a": 1.0}, {"a": 3.0}, {"a": 10.0}], groups=["g", "g", "h"])
    expected = [1 / (1 + math.exp(1.0)), 1 / (1 + math.exp(-1.0)), 0.5]
    assert [o.reward for o in scored_items] == pytest.approx(expected)


def test_failed_required_component_is_error_without_reward_and_optional_is_partial():
    cfg = config({"components": {"a": {"rule": "a"}, "b": {"rule": "b", "required": False}}})
    broken_b, broken_a = evaluate(cfg, "p", [{"a": 2.0, "b": "x"}, {"a": "x", "b": 1.0}])
    assert (broken_b.status, broken_b.reward) == ("partial", 2.0)
    assert broken_b.errors["b"].error_type == "verifier_error"
    assert (broken_a.status, broken_a.reward) == ("error", None)


def test_ensemble_with_a_failed_member_is_missing_and_the_member_error_is_reported():
    cfg = config(
        {
            "components": {
                "a": {"rule": "a"},
                "b": {"rule": "b"},
                "e": {"ensemble": {"members": ["a", "b"], "standardize": False}},
            }
        }
    )
    (scored_item,) = evaluate(cfg, "p", [{"a": 1.0, "b": "oops"}])
    assert scored_item.status == "error" and scored_item.reward is None
    assert set(scored_item.errors) == {"b"}


def test_gate_with_a_missing_optional_control_stays_closed():
    cfg = config(
        {
            "components": {"a": {"rule": "a", "required": False}, "b": {"rule": "b"}},
            "combine": {"weights": {"b": 1.0}},
            "gates": [{"components": ["b"], "if": "a >= 1", "otherwise": 0.25}],
        }
    )
    (scored_item,) = evaluate(cfg, "p", [{"a": "missing", "b": 7.0}])
    assert (scored_item.status, scored_item.reward) == ("partial", 0.25)


def test_constraint_on_a_missing_optional_component_applies_fail_safe():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}, "safe": {"rule": "b", "required": False}},
            "constraints": [{"if": "safe < 0.5", "reward": -1.0}],
        }
    )
    ok, unknown = evaluate(cfg, "p", [{"a": 2.0, "b": 1.0}, {"a": 2.0, "b": "?"}])
    assert ok.reward == 2.0  # the constraint component is not summed by default
    assert (unknown.status, unknown.reward) == ("partial", -1.0)


def test_first_violated_constraint_wins():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}, "b": {"rule": "b"}, "c": {"rule": "c"}},
            "combine": {"weights": {"a": 1.0}},
            "constraints": [{"if": "b > 0", "reward": -1.0}, {"if": "c > 0", "reward": -2.0}],
        }
    )
    scored_items = evaluate(
        cfg, "p", [{"a": 5, "b": 1, "c": 1}, {"a": 5, "b": 0, "c": 1}, {"a": 5, "b": 0, "c": 0}]
    )
    assert [o.reward for o in scored_items] == [-1.0, -2.0, 5.0]


def test_linear_length_penalty_in_words():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}},
            "length_penalty": {"type": "linear", "target": 4, "coefficient": 2.0},
        }
    )
    short, long = evaluate(cfg, "p", [{"a": 1.0}, {"a": 1.0}], responses=["one two", "w " * 6])
    assert short.reward == 1.0
    assert long.reward == pytest.approx(1.0 + 2.0 * -(6 - 4) / 4)


def test_overflowing_product_is_an_error_not_infinity():
    cfg = config({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}, "combine": {"type": "product"}})
    (scored_item,) = evaluate(cfg, "p", [{"a": 1e200, "b": 1e200}])
    assert scored_item.status == "error" and scored_item.reward is None
    assert scored_item.errors["reward"].error_type == "reward_computation"


def test_reference_transform_on_an_item_without_reference_is_invalid_reference():
    cfg = config({"components": {"a": {"rule": "a", "transform": {"type": "par", "ref": "reference"}}}})
    (scored_item,) = evaluate(cfg, "p", [{"a": 1.0}])
    assert isinstance(scored_item.errors["a"], InvalidReference)


def test_explanation_shows_each_operation_with_its_numbers():
    cfg = config(
        {
            "components": {
                "a": {"rule": "a", "transform": [{"type": "affine", "scale": 2}, {"type": "clip", "max": 3}]},
                "b": {"rule": "b"},
            },
            "combine": {"weights": {"a": 1.0, "b": 0.5}},
        }
    )
    (scored_item,) = evaluate(cfg, "p", [{"a": 2.0, "b": 4.0}], explain=True)
    root = scored_item.explanation
    assert (root.op, root.value) == ("weighted_sum", 5.0)
    assert root.formula == "1*a(3) + 0.5*b(4) = 5"
    clip, b = root.inputs
    assert (clip.op, clip.formula) == ("clip", "clip(4, None, 3.0) = 3")
    assert clip.inputs[0].formula == "2 * 2 + 0 = 4"
    assert clip.inputs[0].inputs[0].op == "rule:a"
    assert b.op == "rule:b"


def _ops(node) -> list[str]:
    return [node.op] + [op for child in node.inputs for op in _ops(child)]


def test_explaining_changes_no_value_and_traces_every_operation():
    cfg = config(
        {
            "components": {
                "a": {"rule": "a", "transform": {"type": "par", "ref": 1.0}},
                "b": {"rule": "b", "transform": {"type": "tanh", "scale": 0.5}},
                "e": {"ensemble": {"members": ["a", "b"], "aggregate": "min", "standardize": False}},
                "c": {"rule": "c"},
            },
            "combine": {"weights": {"e": 1.0, "c": 2.0}},
            "gates": [{"components": ["c"], "if": "a >= 0.9", "otherwise": 0.1}],
            "length_penalty": {"type": "linear", "target": 1, "coefficient": 0.5},
            "constraints": [{"if": "b > 0.99", "reward": -5.0}],
        }
    )
    values = [{"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 101.0, "c": 3.0}]
    plain = evaluate(cfg, "p", values, responses=["one two", "three"])
    explained = evaluate(cfg, "p", values, responses=["one two", "three"], explain=True)
    assert [o.reward for o in plain] == [o.reward for o in explained]
    assert [o.components for o in plain] == [o.components for o in explained]
    assert all(o.explanation is None for o in plain)

    gated, violated = explained
    assert gated.reward == pytest.approx(min(0.5, math.tanh(1.0)) + 2 * 0.1 + 0.5 * -(2 - 1) / 1)
    assert _ops(gated.explanation) == [
        "length_penalty:linear",
        "weighted_sum",
        "ensemble:min",
        "par",
        "rule:a",
        "tanh",
        "rule:b",
        "gate",
        "rule:c",
    ]
    assert violated.reward == -5.0
    assert violated.explanation.op == "constraint"
    assert violated.explanation.formula == "constraint #0 violated (b > 0.99: b=1) -> -5"
