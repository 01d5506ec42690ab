"""A source carries its typed SourceKey: its name is derived from it, and a key of another
kind (or a bare string) is refused when the source is made."""

from __future__ import annotations

import pytest

from rewardgate.sources.base import SourceKey
from rewardgate.sources.judge.source import JudgeSource
from rewardgate.sources.judge.spec import JudgeSpec
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.source import RuleSource


def test_the_name_is_the_key_written_out():
    source = RuleSource(SourceKey("rule", "exact"), rule=build_rule("exact_match", {}))
    assert (source.key, source.name, source.kind) == (SourceKey("rule", "exact"), "rule:exact", "rule")


@pytest.mark.parametrize("key", [SourceKey("model", "exact"), SourceKey("judge", "exact"), "rule:exact"])
def test_a_rule_source_refuses_a_key_that_is_not_a_rule_key(key):
    with pytest.raises(TypeError, match="RuleSource is keyed SourceKey\\('rule', name\\)"):
        RuleSource(key, rule=build_rule("exact_match", {}))


def test_a_judge_source_checks_its_key_before_its_own_set_up():
    spec = JudgeSpec(kind="pointwise", base_url="http://127.0.0.1:1/v1", model="m")
    with pytest.raises(TypeError, match="JudgeSource is keyed SourceKey\\('judge', name\\)"):
        JudgeSource(SourceKey("rule", "j"), spec=spec, client=None)
