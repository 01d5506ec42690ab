"""Judges in YAML pipelines, through /v1/score on a running service, against
the scripted OpenAI-compatible server (tests/support/openai_server.py)."""

import pytest

from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess
from tests.support.server import score_ok as score


@pytest.fixture(scope="module")
def judged(tmp_path_factory, judge_server):
    root = tmp_path_factory.mktemp("judges")
    key_file = root / "judge.key"
    key_file.write_text("sk-secret-value\n")
    endpoint = {"base_url": judge_server.url, "model": "scripted-judge", "api_key_file": str(key_file)}
    config = {
        "rules": {"math": {"type": "math_verify", "timeout_s": 5}},
        "judges": {
            "helpful": {"kind": "pointwise", **endpoint},
            "correctness": {"kind": "correctness", **endpoint},
            "safety": {"kind": "constraint", "constraint": "No insults.", **endpoint},
            "flaky": {"kind": "pointwise", "retry": {"attempts": 1}, **endpoint},
        },
        "pipelines": {
            "helpful": {"components": {"quality": {"judge": "helpful"}}},
            "cascade": {"components": {"correct": {"rule": "math", "fallback": {"judge": "correctness"}}}},
            "safe_quality": {
                "components": {"quality": {"judge": "helpful"}, "safe": {"judge": "safety"}},
                "constraints": [{"if": "safe < 1", "reward": -1.0, "name": "no_insults"}],
            },
            "optional_judge": {
                "components": {"correct": {"rule": "math"}, "style": {"judge": "flaky", "required": False}},
                "combine": {"weights": {"correct": 1.0, "style": 0.5}},
            },
        },
    }
    process = ServiceProcess(write_config(root / "pipelines.yaml", config), log_path=root / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def fresh(judge_server):
    judge_server.reset()


def test_judge_scores_are_rewards_with_usage_and_are_cached(judged, judge_server):
    items = [{"prompt": "Explain rain.", "response": "Water condenses and falls. [[score=9]]"}]
    first = score(judged, "helpful", items)
    assert first["results"][0]["reward"] == pytest.approx(8 / 9)
    assert first["usage"]["judge_tokens"] > 0
    assert first["versions"]["judge:helpful"].startswith("sha256:")
    again = score(judged, "helpful", items)
    assert again["results"][0]["reward"] == first["results"][0]["reward"]
    assert again["results"][0]["cached"] == ["quality"] and again["usage"]["judge_tokens"] == 0
    assert len(judge_server.calls) == 1
    auth = judge_server.calls[0]
    assert auth["body"]["model"] == "scripted-judge"


def test_api_key_is_sent_but_never_logged(judged, judge_server):
    score(judged, "helpful", [{"response": "[[score=5]] key check"}])
    assert "sk-secret-value" not in judged.log()


def test_cascade_calls_the_judge_only_when_the_rule_did_not_decide(judged, judge_server):
    items = [
        {"response": "The answer is \\boxed{4}", "reference": "4"},  # math-verify decides: correct
        {"response": "It is four. [[verdict=yes]]", "reference": "4"},  # rule says 0: ask the judge
        {"response": "It is five. [[verdict=no]]", "reference": "4"},
    ]
    results = score(judged, "cascade", items, explain=True)["results"]
    assert [r["reward"] for r in results] == [1.0, 1.0, 0.0]
    assert len(judge_server.calls) == 2
    assert all("[Reference answer]\n4" in call["user"] for call in judge_server.calls)
    assert results[1]["explanation"]["inputs"][0]["op"] == "fallback:judge:correctness"


def test_constraint_judge_overrides_the_reward(judged):
    items = [
        {"response": "Great question! [[score=10]] [[verdict=yes]]"},
        {"response": "Only a fool asks. [[score=10]] [[verdict=no]]"},
    ]
    results = score(judged, "safe_quality", items)["results"]
    assert [r["reward"] for r in results] == [1.0, -1.0], results
    assert results[1]["components"] == {"quality": 1.0, "safe": 0.0}


def test_optional_judge_failures_are_typed_and_score_its_minimum(judged):
    items = [
        {"response": "\\boxed{4} [[malformed]]", "reference": "4"},
        {"response": "\\boxed{4} [[refuse]]", "reference": "4"},
        {"response": "\\boxed{4} [[fail=503,times=9]]", "reference": "4"},
    ]
    results = score(judged, "optional_judge", items)["results"]
    assert [r["status"] for r in results] == ["partial"] * 3
    assert [r["reward"] for r in results] == [1.0, 1.0, 1.0]  # from the rule alone
    types = [r["errors"]["style"]["type"] for r in results]
    assert types == ["judge_parse_error", "judge_refusal", "judge_unavailable"]
    assert results[2]["errors"]["style"]["retryable"] is True
    # An optional judge that fails takes its worst value, never left out (docs/reward-algebra.md#failures).
    assert all(r["components"]["style"] == 0.0 for r in results)


def test_slow_judge_past_the_deadline_answers_the_item_in_time(judged):
    items = [{"response": "\\boxed{4} [[sleep=5]] [[score=3]]", "reference": "4"}]
    result = score(judged, "optional_judge", items, deadline_ms=800)["results"][0]
    assert result["status"] == "partial" and result["errors"]["style"]["type"] == "judge_timeout"


def test_judge_metrics_are_exported(judged):
    score(judged, "helpful", [{"response": "[[score=2]] metrics"}])
    assert judged.metric("rewardgate_judge_calls_total", judge="helpful", outcome="ok") >= 1
    assert judged.metric("rewardgate_judge_tokens_total", judge="helpful", kind="prompt") > 0
