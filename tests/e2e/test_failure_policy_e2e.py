"""The failure policy on a running service (docs/reward-algebra.md#failures): a response that
makes its grader fail gets the component's failure value, never ``null`` (which a trainer
drops, so the policy would learn to fail wherever it would score low); service failures stay
retryable errors; the compat routes never fail a batch for one sample.

Real verifier pool, real SQLite, the shipped ``reasoning`` pipeline as shipped, and the
scripted OpenAI-compatible judge on a real socket (tests/support/openai_server.py).
"""

import httpx
import pytest
import yaml

from rewardgate.config.settings import default_pipeline_file
from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess
from tests.support.server import score_ok as score

#: sympy tries to evaluate this tower exactly and never finishes: the verifier times out.
TOWER = "\\boxed{9^{9^{9^{9}}}}"
ENDLESS_SQL = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"


@pytest.fixture(scope="module")
def failing(tmp_path_factory, judge_server, sql_dir):
    root = tmp_path_factory.mktemp("failures")
    shipped = yaml.safe_load(default_pipeline_file().read_text())
    endpoint = {"base_url": judge_server.url, "model": "scripted-judge", "retry": {"attempts": 1}}
    config = {
        "rules": {
            # The shipped reasoning pipeline with the shipped rules it reads.
            "math": shipped["rules"]["math"],
            "think_answer": shipped["rules"]["think_answer"],
            "quick_math": {"type": "math_verify", "timeout_s": 1},
            "sql": {"type": "sql_execution", "database_dir": str(sql_dir), "timeout_s": 1},
        },
        "judges": {
            "helpful": {"kind": "pointwise", **endpoint},
            "verbose": {"kind": "pointwise", **endpoint},
            "correctness": {"kind": "correctness", **endpoint},
        },
        "pipelines": {
            "reasoning": shipped["pipelines"]["reasoning"],
            "math": {"components": {"correct": {"rule": "quick_math"}}},
            "sql": {"components": {"sql": {"rule": "sql"}}},
            "judged": {"components": {"quality": {"judge": "helpful"}}},
            "cascade": {
                "components": {"correct": {"rule": "quick_math", "fallback": {"judge": "correctness"}}}
            },
            "penalised": {
                "components": {
                    "correct": {"rule": "quick_math"},
                    "verbosity": {"judge": "verbose", "required": False},
                },
                "combine": {"weights": {"correct": 1.0, "verbosity": -0.5}},
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


def post(service, path: str, body: dict) -> httpx.Response:
    return httpx.post(service.url + path, json=body, timeout=60)


def test_a_verifier_timeout_scores_the_minimum_with_the_error_explained_and_counted(failing):
    items = [{"response": TOWER, "reference": "5"}, {"response": "\\boxed{4}", "reference": "5"}]
    hostile, honest = score(failing, "math", items, explain=True)["results"]
    assert (hostile["status"], hostile["reward"]) == ("ok", 0.0)
    assert hostile["reward"] <= honest["reward"] == 0.0
    assert hostile["errors"]["correct"]["type"] == "verifier_timeout"
    assert hostile["explanation"]["inputs"][0]["op"] == "failure:verifier_timeout"
    counted = failing.metric(
        "rewardgate_response_failures_total",
        pipeline="math",
        component="correct",
        error_type="verifier_timeout",
    )
    assert counted >= 1


def test_the_shipped_reasoning_pipeline_gives_the_tower_no_escape(failing):
    items = [
        {"response": TOWER, "reference": "5"},  # no think/answer format: the format constraint
        {"response": f"<think>hm</think><answer>{TOWER}</answer>", "reference": "5"},
        {"response": "<think>hm</think><answer>\\boxed{4}</answer>", "reference": "5"},  # honest, wrong
    ]
    unformatted, formatted, honest = score(failing, "reasoning", items)["results"]
    assert unformatted["reward"] == -1.0
    assert formatted["reward"] == honest["reward"] == 0.0
    assert formatted["errors"]["correct"]["type"] == "verifier_timeout"


def test_a_recursive_sql_query_scores_the_minimum(failing):
    items = [{"response": ENDLESS_SQL, "reference": "SELECT 1", "metadata": {"db": "zoo.db"}}]
    (result,) = score(failing, "sql", items)["results"]
    assert (result["status"], result["reward"]) == ("ok", 0.0)
    assert result["errors"]["sql"]["type"] == "verifier_timeout"


def test_judge_refusal_off_scale_and_context_overflow_score_the_minimum(failing):
    items = [
        {"response": "make it refuse [[refuse]]"},
        {"response": "make it answer off-scale [[score=15]]"},
        {"response": "overflow its context [[fail=400,times=9]]"},
        {"response": "an honest bad answer [[score=1]]"},
    ]
    *hostile, honest = score(failing, "judged", items)["results"]
    assert [r["reward"] for r in hostile] == [0.0, 0.0, 0.0]
    assert [r["errors"]["quality"]["type"] for r in hostile] == [
        "judge_refusal",
        "judge_parse_error",
        "judge_input_rejected",
    ]
    assert all(r["reward"] <= honest["reward"] for r in hostile)


def test_an_unreachable_judge_stays_a_retryable_error(failing):
    (result,) = score(failing, "judged", [{"response": "judge is down [[fail=503,times=9]]"}])["results"]
    assert (result["status"], result["reward"]) == ("error", None)
    assert result["errors"]["quality"]["type"] == "judge_unavailable"
    assert result["errors"]["quality"]["retryable"] is True


def test_the_rules_verdict_survives_a_failing_fallback_judge(failing):
    items = [
        {"response": "\\boxed{5} [[fail=503,times=9]]", "reference": "4"},
        {"response": "\\boxed{5} [[refuse]]", "reference": "4"},
    ]
    results = score(failing, "cascade", items)["results"]
    assert [(r["status"], r["reward"]) for r in results] == [("ok", 0.0), ("ok", 0.0)]


def test_an_optional_penalty_that_fails_takes_its_worst_value(failing):
    items = [
        {"response": "\\boxed{4} [[refuse]]", "reference": "4"},
        {"response": "\\boxed{4} [[fail=503,times=9]]", "reference": "4"},
        {"response": "\\boxed{4} [[score=10]]", "reference": "4"},  # the most verbose honest answer
        {"response": "\\boxed{4} [[score=1]]", "reference": "4"},
    ]
    refused, unavailable, worst, best = score(failing, "penalised", items)["results"]
    assert worst["reward"] == pytest.approx(0.5) and best["reward"] == pytest.approx(1.0)
    for failed in (refused, unavailable):
        assert failed["status"] == "partial"
        assert failed["reward"] == pytest.approx(worst["reward"])
        assert failed["components"]["verbosity"] == 1.0


def test_get_reward_answers_every_sample_of_a_batch_with_failing_ones(failing):
    body = {
        "query": [TOWER, "\\boxed{3}", "\\boxed{3}"],
        "labels": ["5", "3", "an unusable label ???"],
    }
    response = post(failing, "/get_reward?pipeline=math", body)
    assert response.status_code == 200, response.text
    assert response.json()["rewards"] == [0.0, 1.0, 0.0]
    judged = post(
        failing,
        "/get_reward?pipeline=judged",
        {"query": ["refused [[refuse]] a", "overflow [[fail=400,times=9]] a", "fine [[score=10]] a"]},
    )
    assert judged.status_code == 200, judged.text
    assert judged.json()["rewards"] == [0.0, 0.0, 1.0]


def test_get_reward_fails_the_request_retryably_only_for_a_service_failure(failing):
    body = {"query": ["down [[fail=503,times=99]] b", "fine [[score=10]] b"]}
    response = post(failing, "/get_reward?pipeline=judged", body)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["retryable"] is True


def test_slime_reward_scores_a_failing_sample(failing):
    response = post(failing, "/slime/reward?pipeline=math", {"prompt": "p", "response": TOWER, "label": "5"})
    assert response.status_code == 200, response.text
    assert response.json() == 0.0
    down = post(
        failing, "/slime/reward?pipeline=judged", {"prompt": "p", "response": "[[fail=503,times=99]] c"}
    )
    assert down.status_code == 503
