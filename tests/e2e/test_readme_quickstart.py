"""The README's quickstart commands work against the shipped default config."""

import json
import re
import shlex
import subprocess
import sys

import httpx
import pytest
import yaml

from rewardgate.config.pipeline_file import load_config
from rewardgate.sources.model.random_weights import build_reward_model
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
    documented = re.findall(r'"id":"(\w)","reward":([0-9.]+)', readme_json_blocks()[0])
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


def readme_json_blocks() -> list[str]:
    """The ```json blocks of the README, in order."""
    return re.findall(r"```json\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.S)


def documented_replies() -> list[tuple[tuple[str, str], dict]]:
    """Each README reply shown as JSON, with the curl just before it: ((path, body), reply)."""
    pairs, last_curl = [], None
    for chunk in re.split(r"(```json\n.*?```)", (REPO_ROOT / "README.md").read_text(), flags=re.S):
        if chunk.startswith('```json\n{"pipeline"'):
            pairs.append((last_curl, json.loads(chunk.removeprefix("```json\n").removesuffix("```"))))
        for line in chunk.splitlines():
            if line.startswith("curl ") and " -d " in line:
                words = shlex.split(line)
                url = next(w for w in words if w.startswith("localhost:8000"))
                last_curl = (url.removeprefix("localhost:8000"), words[words.index("-d") + 1])
    return pairs


def same_shape(documented, real, where="reply") -> None:
    """``documented`` has exactly the keys of ``real``, recursively (the values may differ)."""
    if isinstance(real, dict):
        assert isinstance(documented, dict) and set(documented) == set(real), (where, documented, real)
        for key in real:
            same_shape(documented[key], real[key], f"{where}.{key}")
    elif isinstance(real, list) and real and documented:
        for index, (doc, got) in enumerate(zip(documented, real, strict=True)):
            same_shape(doc, got, f"{where}[{index}]")


def test_the_readme_shows_replies_as_they_are(default_service):
    """Each documented reply of a README curl has every field of the real reply, no more, no
    fewer (``steps`` and ``explanation`` included), and the same rewards."""
    pairs = documented_replies()
    assert len(pairs) >= 2
    for (path, body), documented in pairs:
        real = httpx.post(
            default_service.url + path, content=body, headers={"content-type": "application/json"}, timeout=60
        ).json()
        same_shape(documented, real)
        assert [r["reward"] for r in documented["results"]] == [r["reward"] for r in real["results"]]
        assert [r["explanation"] for r in documented["results"]] == [
            r["explanation"] for r in real["results"]
        ]


def test_the_readme_score_command_writes_the_lines_it_shows(default_service, tmp_path):
    command = next(
        line
        for line in (REPO_ROOT / "README.md").read_text().splitlines()
        if line.startswith(".venv/bin/rewardgate score")
    )
    words = shlex.split(command)
    words[words.index("--url") + 1] = default_service.url
    words[words.index("-o") + 1] = str(tmp_path / "rewards.jsonl")
    result = subprocess.run(
        [sys.executable, "-m", "rewardgate", *words[1:]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    shown = next(block for block in readme_json_blocks() if block.startswith('{"id": "q1"'))
    written = (tmp_path / "rewards.jsonl").read_text()
    assert [json.loads(line) for line in written.splitlines()] == [
        json.loads(line) for line in shown.splitlines()
    ]


def test_the_example_pipeline_file_loads_with_a_random_model(tmp_path, monkeypatch):
    """examples/my-pipelines.yaml as the README uses it: the model that `rewardgate random-model
    --out models/my-rm` writes (the same builder; the command is tests/e2e/test_random_model.py's),
    read from the directory the service starts in."""
    build_reward_model(tmp_path / "models" / "my-rm")
    monkeypatch.chdir(tmp_path)
    config = load_config(REPO_ROOT / "examples" / "my-pipelines.yaml")
    assert sorted(config.pipelines) == ["graded", "math"]
    assert "rewardgate random-model --out models/my-rm" in (REPO_ROOT / "README.md").read_text()


def test_the_readme_shows_the_example_pipeline_file_as_it_is():
    shown = yaml.safe_load(re.search(r"```yaml\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.S)[1])
    shipped = yaml.safe_load((REPO_ROOT / "examples" / "my-pipelines.yaml").read_text())
    for name, spec in shown["pipelines"].items():
        assert spec == {k: v for k, v in shipped["pipelines"][name].items() if k != "description"}, name
    for section in ("models", "rules"):
        for name, spec in shown[section].items():
            assert spec.items() <= shipped[section][name].items(), (section, name)


def test_shipped_ttrl_math_pipeline_rewards_the_majority_answer(default_service):
    """The README's ttrl_math curl: 4 and 4.0 are one answer, the majority; 5 is not."""
    (body,) = [body for _, body in readme_curls() if '"ttrl_math"' in body]
    reply = httpx.post(
        default_service.url + "/v1/score",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    ).json()
    assert [r["reward"] for r in reply["results"]] == [1.0, 1.0, 0.0]
