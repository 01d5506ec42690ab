"""The numpy guard of the Triton python-backend stub."""

import pytest

from rewardgate.sources.model.triton.stub_numpy import installed_numpy_problem, stub_numpy_problem


@pytest.mark.parametrize("version", ["2.0.0", "2.2.6", "3.0.0rc1"])
def test_numpy_2_and_later_are_refused_with_the_fix(version):
    problem = stub_numpy_problem(version)
    assert problem is not None
    assert f"numpy {version}" in problem and "numpy<2" in problem and "empty outputs" in problem


@pytest.mark.parametrize("version", ["1.26.4", "1.24.0"])
def test_numpy_1_is_accepted(version):
    assert stub_numpy_problem(version) is None


def test_an_unreadable_version_is_refused_not_guessed():
    assert "cannot be read" in stub_numpy_problem("dev")


def test_this_environment_can_run_the_stub():
    # nvidia-pytriton pins numpy<2 in the dev/CI environment (pyproject.toml); if this fails,
    # every Triton test would fail with empty outputs instead of this message.
    assert installed_numpy_problem() is None


@pytest.mark.parametrize(
    "module",
    [
        "rewardgate.sources.model.triton.python_model",
        "rewardgate.sources.model.triton.vision_model",
        "rewardgate.sources.likelihood.triton_model",
    ],
)
def test_every_triton_model_refuses_to_load_under_numpy_2(module, monkeypatch):
    """Each python-backend model checks the numpy its stub imported before loading anything.
    ``triton_python_backend_utils`` exists only inside Triton's stub: an empty stand-in lets the
    module import here (initialize must refuse before it touches it or any weights)."""
    import importlib
    import sys
    import types

    import numpy

    monkeypatch.setitem(
        sys.modules, "triton_python_backend_utils", types.ModuleType("triton_python_backend_utils")
    )
    monkeypatch.delitem(sys.modules, module, raising=False)
    model = importlib.import_module(module).TritonPythonModel()
    monkeypatch.setattr(numpy, "__version__", "2.1.0")
    with pytest.raises(RuntimeError, match="numpy<2"):
        model.initialize({"model_config": "{}"})
