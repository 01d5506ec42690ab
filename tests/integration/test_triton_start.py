"""A local Triton whose model cannot load says why: `rewardgate triton-serve` prints the cause
Triton logged (the model's own exception), not only "failed to load all models"."""

import subprocess
import sys

import pytest

from tests.support.server import REPO_ROOT, free_ports

pytestmark = pytest.mark.slow

CONFIG = """name: "rm"
backend: "python"
max_batch_size: 8
input [ { name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] } ]
output [ { name: "rewards" data_type: TYPE_FP32 dims: [ 1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
"""

# Finds this environment's packages as rewardgate's own model.py does, then fails as a model
# whose weights are damaged would (the real runner takes ~30 s to import torch first).
MODEL = """import os
import site

for directory in filter(None, os.environ.get("REWARDGATE_SITE_DIRS", "").split(os.pathsep)):
    site.addsitedir(directory)


class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("weights file model.safetensors is truncated")
"""


def test_a_model_that_fails_to_load_is_reported_with_its_cause(tmp_path):
    (tmp_path / "repo" / "rm" / "1").mkdir(parents=True)
    (tmp_path / "repo" / "rm" / "config.pbtxt").write_text(CONFIG)
    (tmp_path / "repo" / "rm" / "1" / "model.py").write_text(MODEL)
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
    lines = [line.strip() for line in result.stderr.strip().splitlines()]
    assert lines[0] == "rewardgate triton-serve: tritonserver exited (status 1):", result.stderr
    assert (
        "failed to load 'rm' version 1: Internal: RuntimeError: weights file model.safetensors is truncated"
        in lines
    ), result.stderr
    assert lines[-1] == "error: creating server: Internal - failed to load all models"
    assert "Traceback" not in result.stderr
