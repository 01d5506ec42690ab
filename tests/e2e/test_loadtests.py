"""CI smoke of the load tests: every scenario against a really started service, gates enforced.

About 45 s of load in all: the default mix, the overload scenario, and a run with
a gate tightened until it must fail (showing that a missed gate fails the run).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from rewardgate.config.settings import default_pipeline_file
from tests.support.server import ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.loadtest]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    process = ServiceProcess(default_pipeline_file(), log_path=tmp_path_factory.mktemp("load") / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def load(service, out: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        str(ROOT / "loadtests" / "run.py"),
        "--host",
        service.url,
        "--grpc-host",
        service.grpc_target,
        "--out",
        str(out),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=ROOT)


def rows(out: Path, name: str = "report_stats.csv") -> dict[str, dict]:
    import csv

    with open(out / name) as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def test_the_default_mix_meets_its_gates_with_correct_rewards(service, tmp_path):
    run = load(service, tmp_path, "--duration", "20s", "--users", "12")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "all gates met" in run.stdout + run.stderr
    stats = rows(tmp_path)
    for name in (
        "openrlhf /get_reward",
        "grpc Score (1 item)",
        "grpc ScoreStream (32 items)",
        "rescore (cache)",
    ):
        assert int(stats[name]["Request Count"]) > 0 and int(stats[name]["Failure Count"]) == 0, name
    assert any(name.startswith("grpo group of") for name in stats)
    assert any(name.startswith("mixed ") for name in stats)
    # "Aggregated" counts the requests made, nothing else (the server's timings are not requests).
    requests = [row for name, row in stats.items() if name != "Aggregated"]
    assert all(row["Type"] in ("POST", "gRPC") for row in requests), {r["Type"] for r in requests}
    total = sum(int(row["Request Count"]) for row in requests)
    assert int(stats["Aggregated"]["Request Count"]) == total
    timings = rows(tmp_path, "report_server_timings.csv")
    assert int(timings["x-queue-time"]["Count"]) > 0 and int(timings["x-inference-time"]["Count"]) > 0
    assert (tmp_path / "report.html").exists()
    assert f"report: {tmp_path / 'report.html'}" in run.stdout  # where to look


def test_overload_is_refused_fast_with_retry_after(service, tmp_path):
    run = load(service, tmp_path, "--scenario", "OverloadUser", "--duration", "15s", "--users", "16")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    stats = rows(tmp_path)
    assert int(stats["overload 429"]["Request Count"]) > 0
    assert int(stats["Aggregated"]["Failure Count"]) == 0


def test_a_missed_gate_fails_the_run(service, tmp_path):
    run = load(
        service,
        tmp_path,
        "--scenario",
        "GrpcUnaryUser",
        "--duration",
        "6s",
        "--users",
        "2",
        "--",
        "--max-p99-ms",
        "0.001",
    )
    assert run.returncode != 0
    assert "GATE MISSED: grpc Score (1 item): p99" in run.stdout + run.stderr
