"""Judge declarations are validated at start-up with messages that name the key."""

import pytest

from rewardgate.config.pipeline_file import parse_config
from rewardgate.errors import ConfigError

JUDGE = {"kind": "pointwise", "base_url": "http://127.0.0.1:9/v1", "model": "m"}


def rejected(judges: dict, pipelines: dict, rules: dict | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config({"rules": rules or {}, "judges": judges, "pipelines": pipelines})
    return str(caught.value)


def test_unknown_judge_and_unknown_fallback_judge():
    message = rejected(
        {},
        {"p": {"components": {"j": {"judge": "nope"}, "r": {"rule": "m", "fallback": {"judge": "gone"}}}}},
        rules={"m": {"type": "exact_match"}},
    )
    assert "pipelines.p.components.j.judge: unknown judge 'nope'" in message
    assert "pipelines.p.components.r.fallback.judge: unknown judge 'gone'" in message


def test_template_with_unknown_variable():
    message = rejected(
        {"j": {**JUDGE, "template": "Rate {answer} please"}}, {"p": {"components": {"c": {"judge": "j"}}}}
    )
    assert "judges.j.template: template uses unknown variables ['answer']" in message


def test_missing_api_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("REWARDGATE_TEST_NO_SUCH_KEY", raising=False)
    message = rejected(
        {"j": {**JUDGE, "api_key_env": "REWARDGATE_TEST_NO_SUCH_KEY"}},
        {"p": {"components": {"c": {"judge": "j"}}}},
    )
    assert "judges.j.api_key_env: environment variable REWARDGATE_TEST_NO_SUCH_KEY is not set" in message


def test_constraint_judge_needs_its_rule_and_scales_are_ordered():
    message = rejected(
        {"c": {**JUDGE, "kind": "constraint"}, "s": {**JUDGE, "scale": [5, 1]}},
        {"p": {"components": {"a": {"judge": "c"}, "b": {"judge": "s"}}}},
    )
    assert "judges.c" in message and "needs 'constraint'" in message
    assert "judges.s" in message and "lowest < highest" in message


def test_fallback_only_on_rules_and_mistyped_kind():
    message = rejected(
        {"j": {**JUDGE, "kind": "rubric"}, "k": JUDGE},
        {"p": {"components": {"x": {"judge": "k", "fallback": {"judge": "k"}}}}},
    )
    assert "judges.j.kind" in message
    assert "fallback applies to rule components" in message
