"""The README's quickstart commands work against the shipped default config."""

import re
import shlex

import httpx
import pytest

from tests.support.server import REPO_ROOT

pytestmark = pytest.mark.slow


def readme_curls(method: str = "POST") -> list[tuple[str, str | None]]:
    """(path with query, JSON body) of every curl in the README that sends a body (POST),
    or (path, None) of every one that does not (GET)."""
    calls = []
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        if line.startswith("curl "):
            words = shlex.split(line)
            url = next(w for w in words if w.startswith("localhost:8000"))
            body = words[words.index("-d") + 1] if "-d" in words else None
            if (body is None) == (method == "GET"):
                calls.append((url.removeprefix("localhost:8000"), body))
    return calls


def test_readme_has_the_quickstart_curls():
    paths = [path for path, _ in readme_curls()]
    assert "/v1/score" in paths and any(p.startswith("/get_reward") for p in paths)


def test_every_readme_curl_returns_numeric_rewards(default_service):
    for path, body in readme_curls():
        response = httpx.post(
            default_service.url + path, content=body, headers={"content-type": "application/json"}, timeout=60
        )
        assert response.status_code == 200, (path, response.text)
        reply = response.json()
        if "results" in reply:  # /v1/score, or /v1/compare with a probability per pair
            rewards = [r["reward"] if "reward" in r else r["probability"] for r in reply["results"]]
        else:
            rewards = reply["rewards"]
        assert rewards and all(isinstance(r, float) for r in rewards), reply


def test_readme_math_example_gives_the_documented_rewards(default_service):
    path, body = readme_curls()[0]
    results = httpx.post(
        default_service.url + path, content=body, headers={"content-type": "application/json"}, timeout=60
    ).json()["results"]
    documented = re.findall(r'"id":"(\w)","reward":([0-9.]+)', (REPO_ROOT / "README.md").read_text())
    assert [(r["id"], r["reward"]) for r in results] == [(i, float(v)) for i, v in documented]


def test_shipped_format_pipeline_checks_think_answer_structure(default_service):
    items = [{"response": "<think>easy</think><answer>4</answer>"}, {"response": "4"}]
    reply = httpx.post(
        default_service.url + "/v1/score", json={"pipeline": "format", "items": items}, timeout=60
    )
    assert [r["reward"] for r in reply.json()["results"]] == [1.0, 0.0]


def test_shipped_code_pipeline_runs_the_reference_tests(default_service):
    tests = "assert add(1, 2) == 3\nassert add(0, 0) == 0\n"
    items = [
        {"response": "```python\ndef add(a, b):\n    return a + b\n```", "reference": tests},
        {"response": "def add(a, b):\n    return a * b\n", "reference": tests},  # passes 0 + 0 only
        {"response": "while True:\n    pass\n", "reference": tests},
    ]
    reply = httpx.post(
        default_service.url + "/v1/score", json={"pipeline": "code", "items": items}, timeout=120
    )
    assert [r["reward"] for r in reply.json()["results"]] == [1.0, 0.5, 0.0]


def test_shipped_reasoning_pipeline_gates_correctness_on_format(default_service):
    good = "<think>2+2 is 4</think><answer>\\boxed{4}</answer>"
    items = [
        {"response": good, "reference": "4"},
        {"response": "\\boxed{4}", "reference": "4"},  # right answer, wrong format
    ]
    results = httpx.post(
        default_service.url + "/v1/score",
        json={"pipeline": "reasoning", "items": items, "options": {"explain": True}},
        timeout=60,
    ).json()["results"]
    assert [r["reward"] for r in results] == [1.0, -1.0]
    assert results[1]["explanation"]["op"] == "constraint"


def test_the_readme_stats_curl_shows_the_pipelines_it_scored(default_service):
    (path, _), *_ = readme_curls("GET")
    for post_path, body in readme_curls():
        httpx.post(
            default_service.url + post_path, content=body, headers={"content-type": "application/json"}
        )
    response = httpx.get(default_service.url + path, timeout=30)
    assert response.status_code == 200, response.text
    stats = response.json()["pipelines"]["math"]
    assert stats["items"] > 0 and stats["status_share"]["ok"] > 0
