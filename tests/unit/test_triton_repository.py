"""The checked-in example repository is exactly what the generator writes."""

from pathlib import Path

from rewardgate.sources.model.triton.repository import MODEL_PY, TritonModelSettings, render_config

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
    assert "from rewardgate.sources.model.triton.python_model import TritonPythonModel" in MODEL_PY


def test_tritons_batcher_and_queue_policy_only_when_asked():
    def render(**settings):
        return render_config("rm", Path("/m"), 1, "v", TritonModelSettings(device="cpu", **settings))

    assert "dynamic_batching" not in render() and "queue" not in render()
    batched = render(dynamic_batching=True, max_queue_size=7, queue_timeout_us=5, max_queue_delay_us=3)
    for line in ("max_queue_size: 7", "default_timeout_microseconds: 5", "max_queue_delay_microseconds: 3"):
        assert line in batched
    # Everything else is the same file.
    block = batched[batched.index("dynamic_batching {") : batched.index("parameters")]
    assert batched.replace(block, "") == render()
