"""A local Triton whose model cannot load says why: `rewardgate triton-serve` prints the cause
Triton logged (the model's own exception), not only "failed to load all models"."""

import subprocess
import sys

import pytest

from rewardgate.sources.model.triton.repository import TritonModelSettings, write_repository
from tests.support.server import REPO_ROOT, free_ports
from tests.support.tiny_models import build_reward_model

pytestmark = pytest.mark.slow


def test_a_model_that_fails_to_load_is_reported_with_its_cause(tmp_path):
    model = build_reward_model(tmp_path / "rm")
    write_repository(model, "tiny_rm", tmp_path / "repo", TritonModelSettings(torch_threads=1))
    (model / "model.safetensors").write_bytes(
        b"\x08\x00\x00\x00\x00\x00\x00\x00not json"
    )  # truncated weights
    http, grpc, metrics = free_ports(3)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardgate",
            "triton-serve",
            "--repo",
            str(tmp_path / "repo"),
            "--http-port",
            str(http),
            "--grpc-port",
            str(grpc),
            "--metrics-port",
            str(metrics),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "rewardgate triton-serve: tritonserver exited (status 1):", result.stderr
    cause = next(line for line in lines if "failed to load 'tiny_rm' version 1" in line)
    assert "safetensor" in cause.lower(), result.stderr  # the model's own error, through the backend
    assert lines[-1].strip() == "error: creating server: Internal - failed to load all models"
    assert "Traceback" not in result.stderr
