"""Bad algebra declarations fail at start-up with messages that name them."""

import pytest

from rewardgate.config.pipeline_file import parse_config
from rewardgate.errors import ConfigError

RULES = {"a": {"type": "exact_match"}, "b": {"type": "exact_match"}}


def rejected(pipelines: dict, models: dict | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config({"models": models or {}, "rules": RULES, "pipelines": pipelines})
    return str(caught.value)


def test_ensemble_member_that_is_not_a_component():
    message = rejected(
        {"p": {"components": {"a": {"rule": "a"}, "e": {"ensemble": {"members": ["a", "zz"]}}}}}
    )
    assert "pipelines.p.components.e.ensemble.members: 'zz' is not a component" in message


def test_ensemble_cycle_is_named():
    message = rejected(
        {
            "p": {
                "components": {
                    "a": {"rule": "a"},
                    "e": {"ensemble": {"members": ["a", "f"]}},
                    "f": {"ensemble": {"members": ["a", "e"]}},
                }
            }
        }
    )
    assert "ensemble cycle" in message and ("e -> f -> e" in message or "f -> e -> f" in message)


def test_route_cycle_across_pipelines_is_named():
    message = rejected(
        {
            "x": {"components": {"r": {"route": {"field": "task", "pipelines": {"t": "y"}}}}},
            "y": {"components": {"r": {"route": {"field": "task", "pipelines": {"t": "x"}}}}},
        }
    )
    assert "route cycle" in message
    assert "x -> y -> x" in message or "y -> x -> y" in message


def test_route_to_unknown_pipeline_and_unknown_classifier():
    message = rejected(
        {"x": {"components": {"r": {"route": {"classifier": "clf", "pipelines": {"h": "nowhere"}}}}}}
    )
    assert "pipelines.x.components.r.route.pipelines.h: unknown pipeline 'nowhere'" in message
    assert "pipelines.x.components.r.route.classifier: unknown model 'clf'" in message


def test_mistyped_transform_names_the_key_and_the_known_types():
    message = rejected({"p": {"components": {"a": {"rule": "a", "transform": {"type": "log_sigmod"}}}}})
    assert "pipelines.p.components.a.transform.0" in message
    assert "log_sigmod" in message and "log_sigmoid" in message


def test_mistyped_aggregate_and_combine_type():
    message = rejected(
        {
            "p": {
                "components": {
                    "a": {"rule": "a"},
                    "b": {"rule": "b"},
                    "e": {"ensemble": {"members": ["a", "b"], "aggregate": "avg"}},
                },
                "combine": {"type": "sum"},
            }
        }
    )
    assert "pipelines.p.components.e.ensemble.aggregate" in message
    assert "pipelines.p.combine.type" in message


def test_gate_and_constraint_conditions_are_checked():
    message = rejected(
        {
            "p": {
                "components": {"a": {"rule": "a"}, "b": {"rule": "b"}},
                "gates": [{"components": ["b"], "if": "nope >= 1"}, {"components": ["a"], "if": "a > 0"}],
                "constraints": [{"if": "a is bad", "reward": -1}],
            }
        }
    )
    assert "pipelines.p.constraints.0.if" in message and "COMPONENT OP NUMBER" in message


def test_gate_naming_unknown_components_and_gating_itself():
    message = rejected(
        {
            "p": {
                "components": {"a": {"rule": "a"}, "b": {"rule": "b"}},
                "gates": [
                    {"components": ["b", "ghost"], "if": "nope >= 1"},
                    {"components": ["a"], "if": "a > 0"},
                ],
            }
        }
    )
    assert "pipelines.p.gates.0.if: 'nope' is not a component" in message
    assert "pipelines.p.gates.0.components: 'ghost' is not a component" in message
    assert "pipelines.p.gates.1.components: 'a' cannot gate itself" in message


def test_component_needs_exactly_one_kind_and_steps_only_on_leaves():
    message = rejected(
        {
            "p": {
                "components": {
                    "a": {"rule": "a", "model": "m"},
                    "e": {"ensemble": {"members": ["a", "a2"]}, "steps": {"split": {"delimiter": "\n"}}},
                }
            }
        }
    )
    assert "pipelines.p.components.a" in message and "exactly one of" in message
    assert "pipelines.p.components.e" in message and "steps apply to model and rule" in message


def test_process_reward_model_needs_steps():
    models = {"prm": {"kind": "process_reward_model", "path": "/nowhere"}}
    message = rejected({"p": {"components": {"s": {"model": "prm"}}}}, models)
    assert "pipelines.p.components.s.steps: model 'prm' is a process_reward_model and needs steps" in message


def test_reference_transform_needs_a_leaf_and_cannot_follow_a_relative_transform():
    message = rejected(
        {
            "p": {
                "components": {
                    "a": {
                        "rule": "a",
                        "transform": [
                            {"type": "par", "ref": "group_mean"},
                            {"type": "log_sigmoid", "ref": "reference"},
                        ],
                    },
                    "b": {"rule": "b"},
                    "e": {
                        "ensemble": {"members": ["a", "b"]},
                        "transform": {"type": "par", "ref": "reference"},
                    },
                }
            }
        }
    )
    assert "pipelines.p.components.a.transform.1.ref: 'reference' cannot follow" in message
    assert (
        "pipelines.p.components.e.transform.0.ref: 'reference' needs a model, rule or judge component"
        in message
    )


def test_all_weights_zero_is_rejected():
    message = rejected({"p": {"components": {"a": {"rule": "a"}}, "combine": {"weights": {"a": 0}}}})
    assert "no component has a non-zero weight" in message


def test_a_valid_algebra_file_parses_and_hash_covers_sub_pipelines():
    pipelines = {
        "leaf": {"components": {"a": {"rule": "a"}}},
        "top": {"components": {"r": {"route": {"field": "task", "pipelines": {"t": "leaf"}}}}},
    }
    config = parse_config({"rules": RULES, "pipelines": pipelines})
    changed = parse_config(
        {"rules": RULES, "pipelines": {**pipelines, "leaf": {"components": {"a": {"rule": "b"}}}}}
    )
    assert config.pipeline_hash("top") != changed.pipeline_hash("top")
