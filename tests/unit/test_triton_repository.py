"""The checked-in example repository is exactly what the generator writes."""

from pathlib import Path

from service.sources.model.triton.repository import MODEL_PY, TritonModelSettings, render_config

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "triton" / "model_repository" / "reward_model"


def test_example_config_matches_the_generator():
    expected = render_config(
        "reward_model",
        Path("/models/reward_model"),
        1,
        "sha256:<written by rewardgate triton-repo>",
        TritonModelSettings(device="gpu"),
    )
    assert (EXAMPLE / "config.pbtxt").read_text() == expected


def test_example_model_py_is_the_one_line_import():
    assert (EXAMPLE / "1" / "model.py").read_text() == MODEL_PY
    assert "from service.sources.model.triton.python_model import TritonPythonModel" in MODEL_PY
