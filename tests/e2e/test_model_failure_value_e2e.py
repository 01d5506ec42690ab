"""A reward model refuses a response past its max_length (truncating would score another text):
with ``on_failure`` that response scores the declared value, never null; without it, start-up
warns that such responses get no reward (docs/reward-algebra.md#failures)."""

import pytest

from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess
from tests.support.server import score_ok as score


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, tiny_rm):
    root = tmp_path_factory.mktemp("model_failures")
    config = {
        "models": {"rm": {"kind": "reward_model", "path": str(tiny_rm), "max_length": 32}},
        "pipelines": {
            "guarded": {"components": {"rm": {"model": "rm", "head": 0, "on_failure": -5.0}}},
            "unguarded": {"components": {"rm": {"model": "rm", "head": 0}}},
        },
    }
    process = ServiceProcess(write_config(root / "pipelines.yaml", config), log_path=root / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def test_a_response_past_max_length_scores_the_declared_failure_value(guarded):
    items = [{"prompt": "Say hi", "response": "hello " * 200}, {"prompt": "Say hi", "response": "hello"}]
    overlong, short = score(guarded, "guarded", items)["results"]
    assert (overlong["status"], overlong["reward"]) == ("ok", -5.0)
    assert overlong["errors"]["rm"]["type"] == "invalid_component_input"
    assert short["reward"] is not None and short["errors"] == {}


def test_start_up_warns_about_a_model_component_without_a_failure_value(guarded):
    log = guarded.log()
    assert "pipelines.unguarded.components.rm: a response longer than model 'rm'" in log
    assert "pipelines.guarded.components.rm" not in log
