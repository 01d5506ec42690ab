"""The failure policy (docs/reward-algebra.md#failures): a failure the response causes scores
as the component's failure value, never null; decided gates and constraints settle an item
before an error does; an optional component that fails takes its worst value."""

import pytest

from tests.support.algebra import evaluate


def unit_rules(*keys: str) -> dict:
    """``number`` rules documented in [0, 1], so their failure value defaults to an end of it."""
    return {key: {"type": "number", "key": key, "low": 0.0, "high": 1.0} for key in keys}


def config(pipeline: dict) -> dict:
    return {"rules": unit_rules("a", "b", "c"), "pipelines": {"p": pipeline}}


def test_a_failure_the_response_caused_scores_the_rules_minimum_and_stays_visible():
    cfg = config({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}})
    timed_out, crashed, honest = evaluate(
        cfg,
        "p",
        [{"a": "timeout", "b": 0.5}, {"a": "not a number", "b": 0.5}, {"a": 0.25, "b": 0.5}],
        explain=True,
    )
    assert (timed_out.status, timed_out.reward) == ("ok", 0.5)
    assert timed_out.errors["a"].error_type == "verifier_timeout" and timed_out.failed == ["a"]
    assert timed_out.components["a"] == 0.0
    assert (crashed.status, crashed.reward) == ("ok", 0.5)
    assert crashed.errors["a"].error_type == "verifier_error"
    # Failing never beats an honest low answer.
    assert timed_out.reward <= honest.reward and crashed.reward <= honest.reward
    failure = timed_out.explanation.inputs[0]
    assert failure.op == "failure:verifier_timeout" and failure.value == 0.0


def test_declared_failure_value_wins_and_goes_through_the_transforms():
    cfg = config(
        {
            "components": {
                "a": {"rule": "a", "on_failure": -2.0, "transform": {"type": "affine", "scale": 3.0}}
            }
        }
    )
    (scored_item,) = evaluate(cfg, "p", [{"a": "timeout"}])
    assert scored_item.reward == pytest.approx(-6.0)


def test_a_penalty_fails_to_its_maximum():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}, "pen": {"rule": "b"}},
            "combine": {"weights": {"a": 1.0, "pen": -1.0}},
        }
    )
    failed, clean = evaluate(cfg, "p", [{"a": 1.0, "b": "timeout"}, {"a": 1.0, "b": 0.2}])
    assert failed.reward == pytest.approx(0.0) and failed.components["pen"] == 1.0
    assert failed.reward < clean.reward


def test_service_and_input_failures_of_a_required_component_stay_typed_errors():
    cfg = config({"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}})
    service, caller = evaluate(cfg, "p", [{"a": "unavailable", "b": 1.0}, {"a": "no_reference", "b": 1.0}])
    assert (service.status, service.reward) == ("error", None)
    assert service.errors["a"].error_type == "verifier_unavailable" and service.errors["a"].retryable
    assert (caller.status, caller.reward) == ("error", None)
    assert caller.errors["a"].error_type == "invalid_reference"
    assert service.failed == caller.failed == []


def test_an_optional_penalty_that_fails_takes_its_worst_value():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}, "pen": {"rule": "b", "required": False}},
            "combine": {"weights": {"a": 1.0, "pen": -0.5}},
        }
    )
    scored_items = evaluate(
        cfg, "p", [{"a": 1.0, "b": cause} for cause in ("timeout", "unavailable", "no_reference")]
    )
    (honest,) = evaluate(cfg, "p", [{"a": 1.0, "b": 0.0}])
    assert honest.reward == 1.0
    response, service, not_applicable = scored_items
    for scored_item in (response, service):
        assert (scored_item.status, scored_item.reward) == ("partial", pytest.approx(0.5))
        assert scored_item.components["pen"] == 1.0 and "pen" in scored_item.errors
    # The caller's item has no reference for it: the component does not apply and is left out.
    assert (not_applicable.status, not_applicable.reward) == ("partial", 1.0)
    assert "pen" not in not_applicable.components


def test_a_decided_constraint_applies_before_a_failed_component_decides_the_item():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}, "fmt": {"rule": "b"}},
            "combine": {"weights": {"a": 1.0}},
            "constraints": [{"if": "fmt < 1", "reward": -1.0, "name": "format"}],
        }
    )
    unformatted, formatted = evaluate(
        cfg, "p", [{"a": "unavailable", "b": 0.0}, {"a": "unavailable", "b": 1.0}], explain=True
    )
    assert (unformatted.status, unformatted.reward) == ("partial", -1.0) and unformatted.violated == "format"
    assert unformatted.explanation.op == "constraint"
    # Nothing decided the formatted one: the service failure stays a retryable error.
    assert (formatted.status, formatted.reward) == ("error", None)


def test_an_undecided_earlier_constraint_stops_the_search():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}, "b": {"rule": "b"}, "c": {"rule": "c"}},
            "combine": {"weights": {"a": 1.0}},
            "constraints": [{"if": "a < 0.5", "reward": -5.0}, {"if": "b < 1", "reward": -1.0}],
        }
    )
    (scored_item,) = evaluate(cfg, "p", [{"a": "unavailable", "b": 0.0, "c": 1.0}])
    assert (scored_item.status, scored_item.reward) == ("error", None)


def test_a_decided_closed_gate_replaces_a_failed_component():
    cfg = config(
        {
            "components": {"a": {"rule": "a"}, "b": {"rule": "b"}},
            "combine": {"weights": {"a": 1.0, "b": 1.0}},
            "gates": [{"components": ["b"], "if": "a >= 1", "otherwise": 0.0}],
        }
    )
    closed, open_ = evaluate(cfg, "p", [{"a": 0.5, "b": "unavailable"}, {"a": 1.0, "b": "unavailable"}])
    assert (closed.status, closed.reward) == ("partial", 0.5) and closed.gated == ["b"]
    assert (open_.status, open_.reward) == ("error", None)


def test_a_response_without_steps_scores_the_per_step_rules_minimum():
    steps = {"split": {"tag": "step"}, "aggregate": "min"}
    cfg = config({"components": {"s": {"rule": "a", "steps": steps}}})
    stepless, stepped = evaluate(
        cfg, "p", [{"a": 1.0}, {"a": 1.0}], responses=["no step tags at all", "<step>x</step>"]
    )
    assert (stepless.status, stepless.reward) == ("ok", 0.0)
    assert stepless.errors["s"].error_type == "invalid_component_input"
    assert stepped.reward == 1.0
