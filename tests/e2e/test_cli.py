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
    assert result.returncode == 0, result.stderr
    assert [line["id"] for line in lines] == [str(n) for n in range(1, 12)]
    assert [line["reward"] for line in lines[:10]] == [1.0 if n == 4 else 0.0 for n in range(10)]
    assert lines[10]["status"] == "error" and lines[10]["reward"] is None
    assert "scored 11 items, 1 failed" in result.stderr


def test_score_command_marks_every_item_failed_when_the_service_refuses(service, tmp_path):
    result, lines = run_score_command(
        service, tmp_path, [{"response": "x"}], "--pipeline", "no-such-pipeline"
    )
    assert result.returncode == 1
    (line,) = lines
    assert line["errors"]["request"]["type"] == "pipeline_not_found"


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
