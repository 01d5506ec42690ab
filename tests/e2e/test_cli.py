"""`rewardgate score` against the running service."""

import json
import subprocess
import sys

import pytest

from tests.support.server import REPO_ROOT

pytestmark = pytest.mark.slow


def run_score_command(service, tmp_path, items, *options, url=None):
    """Write ``items`` as JSONL, run `rewardgate score` on them (into ``out.jsonl``, which
    may already hold a previous run's lines); (result, output lines)."""
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(item) for item in items) + "\n")
    target = tmp_path / "out.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardgate",
            "score",
            str(source),
            "-o",
            str(target),
            "--url",
            url or service.url,
            *options,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, [json.loads(line) for line in target.read_text().splitlines()]


def test_score_command_writes_one_result_per_input_line_in_order(service, tmp_path):
    items = [{"response": f"\\boxed{{{n}}}", "reference": "4"} for n in range(10)]
    items.append({"response": "\\boxed{1}", "reference": "???"})
    result, lines = run_score_command(
        service, tmp_path, items, "--pipeline", "math", "--batch-size", "3", "--concurrency", "2"
    )
    assert result.returncode == 1, result.stderr  # a row has no reward
    assert [line["id"] for line in lines] == [str(n) for n in range(1, 12)]
    assert [line["reward"] for line in lines[:10]] == [1.0 if n == 4 else 0.0 for n in range(10)]
    assert lines[10]["status"] == "error" and lines[10]["reward"] is None
    assert "scored 11 items, 1 failed" in result.stderr
    assert "failed: 1 invalid_reference; rerun with --resume" in result.stderr


def test_a_permanent_error_stops_the_run_at_once_with_its_reason(service, tmp_path):
    refused_before = service.metric("rewardgate_requests_total", route="/v1/score", status="404")
    earlier = json.dumps({"id": "1", "reward": 1.0, "status": "ok"}) + "\n"
    (tmp_path / "out.jsonl").write_text(earlier)  # a finished run's output, not to be lost to a typo
    items = [{"response": "x"} for _ in range(12)]
    result, _ = run_score_command(
        service, tmp_path, items, "--pipeline", "maths", "--batch-size", "2", "--concurrency", "1"
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("rewardgate score: stopped: pipeline_not_found: ") and "'maths'" in last
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out.jsonl").read_text() == earlier  # nothing was written over it
    # One request was refused; the five chunks behind it were never sent.
    assert service.metric("rewardgate_requests_total", route="/v1/score", status="404") == refused_before + 1


def test_resume_scores_again_every_line_without_a_reward_and_says_why(service, tmp_path):
    items = [{"id": f"i{n}", "response": f"\\boxed{{{n}}}", "reference": "2"} for n in range(5)]
    failed = {"id": "", "reward": None, "status": "error"}
    previous = [
        {"id": "i0", "reward": 0.0, "status": "ok"},
        failed | {"id": "i1", "errors": {"request": {"type": "connection_failed", "message": "refused"}}},
        failed | {"id": "i2", "errors": {"request": {"type": "overloaded", "message": "429"}}},
        failed | {"id": "i3", "errors": {"correct": {"type": "verifier_timeout", "message": "slow"}}},
    ]
    (tmp_path / "out.jsonl").write_text("".join(json.dumps(line) + "\n" for line in previous))
    result, lines = run_score_command(service, tmp_path, items, "--resume", "--pipeline", "math")
    assert result.returncode == 0, result.stderr
    assert sorted(line["id"] for line in lines) == [f"i{n}" for n in range(5)]  # each id once
    assert {line["id"]: line["reward"] for line in lines} == {
        "i0": 0.0,
        "i1": 0.0,
        "i2": 1.0,
        "i3": 0.0,
        "i4": 0.0,
    }
    assert (
        "resuming: 1 rows already have a result; scoring again 3 that failed (1 connection_failed, "
        "1 overloaded, 1 verifier_timeout); 4 to score" in result.stderr
    )


def test_score_command_over_grpc_and_resume_skips_finished_ids(service, tmp_path):
    items = [{"id": f"i{n}", "response": f"\\boxed{{{n}}}", "reference": "2"} for n in range(6)]
    target = tmp_path / "out.jsonl"
    # A previous run finished the first two items (and was cut mid-line).
    target.write_text(
        json.dumps({"id": "i0", "reward": 0.0, "status": "ok"})
        + "\n"
        + json.dumps({"id": "i1", "reward": 0.0, "status": "ok"})
        + '\n{"id": "i2", "rew'
    )
    result, lines = run_score_command(
        service,
        tmp_path,
        items,
        "--resume",
        "--pipeline",
        "math",
        "--batch-size",
        "2",
        url=f"grpc://{service.grpc_target}",
    )
    assert result.returncode == 0, result.stderr
    assert [line["id"] for line in lines] == [f"i{n}" for n in range(6)]
    assert [line["reward"] for line in lines[2:]] == [1.0, 0.0, 0.0, 0.0]
    assert "scored 4 items, 0 failed (2 already done)" in result.stderr
