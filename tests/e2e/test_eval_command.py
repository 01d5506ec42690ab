"""`rewardgate eval` on the shipped sample sets: in-process and against a running service,
with the report, the plot, resuming, and failures counted as errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import REPO_ROOT, free_port

pytestmark = pytest.mark.slow

SAMPLES = REPO_ROOT / "rewardgate" / "eval" / "samples"
PAIRS = SAMPLES / "math_pairs.jsonl"
BEST_OF_N = SAMPLES / "math_best_of_n.jsonl"


def run_eval(data: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rewardgate", "eval", str(data), "--out", str(out), *options],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def items_scored(service, pipeline: str) -> float:
    text = httpx.get(service.url + "/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "rewardgate_items_scored"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["pipeline"] == pipeline
    )


def assert_png(path: Path) -> None:
    from matplotlib import image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = image.imread(path).shape
    assert width > 800 and height > 300


def test_pairs_in_process_on_the_sample_set(tmp_path):
    result = run_eval(PAIRS, tmp_path, "--pipeline", "math")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    subsets = report["subsets"]
    # Correct answers beat wrong ones and every known hack; style is invisible to math-verify: ties.
    assert subsets["equivalence"]["accuracy"]["value"] == 1.0
    assert subsets["hacks"]["wins"] == subsets["hacks"]["pairs"] == 8
    assert subsets["style"]["ties"] == 6 and subsets["style"]["accuracy"]["value"] == 0.5
    assert report["overall"]["errors"] == 0 and report["records"] == 24
    low, high = report["overall"]["accuracy"]["ci95"]
    assert low < report["overall"]["accuracy"]["value"] < high
    assert report["aggregate"]["accuracy"]["value"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert "| hacks | 8 | 8 | 0 | 0 | 0 |" in (tmp_path / "report.md").read_text()
    assert_png(tmp_path / "rewards.png")
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 24


def test_best_of_n_against_a_running_service_resumes_where_it_stopped(service, tmp_path):
    lines = BEST_OF_N.read_text().splitlines()
    # A previous run finished three sets and was cut off while writing the fourth.
    previous = tmp_path / "previous"
    first = run_eval(_subset_file(tmp_path, lines[:3]), previous, "--pipeline", "math", "--url", service.url)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text((previous / "results.jsonl").read_text() + '{"id": "arithm')
    before = items_scored(service, "math")
    result = run_eval(BEST_OF_N, out, "--pipeline", "math", "--url", service.url, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming: 3 records already have a result; 7 to score" in result.stderr
    assert items_scored(service, "math") - before == 7 * 4  # only the seven sets not done
    report = json.loads((out / "report.json").read_text())
    overall = report["overall"]
    assert overall["sets"] == 10 and overall["errors"] == 0
    # Every set but the one without a correct response has its correct answer scored highest.
    assert overall["top1"]["value"] == overall["oracle"]["value"] == 0.9
    assert overall["random"]["value"] == pytest.approx(0.375)
    assert report["scored_by"] == service.url
    assert_png(out / "rewards.png")


def test_resume_scores_again_the_records_that_failed(service, tmp_path):
    data = _subset_file(tmp_path, BEST_OF_N.read_text().splitlines()[:2])
    out = tmp_path / "out"
    assert run_eval(data, out, "--pipeline", "math", "--url", service.url).returncode == 0
    first, second = (json.loads(line) for line in (out / "results.jsonl").read_text().splitlines())
    failed = {**second, "rewards": [None] * len(second["rewards"]), "outcome": "error"}
    failed["errors"] = ["connection_failed: the service could not be reached"] * len(second["rewards"])
    (out / "results.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(failed) + "\n")
    result = run_eval(data, out, "--pipeline", "math", "--url", service.url, "--resume")
    assert result.returncode == 0, result.stderr
    assert (
        "1 records already have a result; scoring again 1 that failed (1 connection_failed)" in result.stderr
    )
    assert json.loads((out / "report.json").read_text())["overall"]["errors"] == 0


def test_failures_are_counted_as_errors_not_as_losses(service, tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(
        json.dumps({"prompt": "2+2?", "chosen": "\\boxed{4}", "rejected": "\\boxed{5}", "reference": "4"})
        + "\n"
        + json.dumps({"prompt": "2+2?", "chosen": "\\boxed{4}", "rejected": "\\boxed{5}"})  # no reference
        + "\n"
    )
    result = run_eval(data, tmp_path / "out", "--pipeline", "math", "--url", service.url)
    assert result.returncode == 0, result.stderr
    overall = json.loads((tmp_path / "out" / "report.json").read_text())["overall"]
    assert (overall["wins"], overall["errors"], overall["accuracy"]["value"]) == (1, 1, 1.0)
    refused = run_eval(data, tmp_path / "refused", "--pipeline", "no-such-pipeline", "--url", service.url)
    assert refused.returncode == 1  # every record failed
    report = json.loads((tmp_path / "refused" / "report.json").read_text())
    assert report["overall"]["errors"] == 2 and report["overall"]["accuracy"] is None
    assert "pipeline_not_found" in (tmp_path / "refused" / "results.jsonl").read_text()


def test_an_unreachable_service_fails_every_record_within_the_timeout(tmp_path):
    result = run_eval(
        PAIRS, tmp_path, "--pipeline", "math", "--url", f"http://127.0.0.1:{free_port()}", "--timeout-s", "3"
    )
    assert result.returncode == 1  # every record failed, and the run ended
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["overall"]["errors"] == 24 and report["overall"]["accuracy"] is None
    assert "connection" in (tmp_path / "results.jsonl").read_text().lower()


def test_a_malformed_file_is_refused_with_its_line(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text(
        '{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "p", "chosen": 3, "rejected": "b"}\n'
    )
    result = run_eval(data, tmp_path / "out", "--pipeline", "math")
    assert result.returncode == 2
    assert "line 2: 'chosen' must be a string" in result.stderr


def _subset_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "first.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pairs_over_grpc_agree_with_in_process_scoring(service, tmp_path):
    over_grpc = run_eval(
        PAIRS, tmp_path / "grpc", "--pipeline", "math", "--url", f"grpc://{service.grpc_target}"
    )
    assert over_grpc.returncode == 0, over_grpc.stderr
    report = json.loads((tmp_path / "grpc" / "report.json").read_text())
    assert (report["overall"]["wins"], report["overall"]["ties"], report["overall"]["losses"]) == (18, 6, 0)
    assert report["aggregate"]["accuracy"]["value"] == pytest.approx((1 + 1 + 0.5) / 3)
