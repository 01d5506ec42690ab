"""kind: likelihood on a real Triton Inference Server (CPU): the same numbers as the in-process
runner, a pair from one request, the typed errors of a malformed request."""

import subprocess
import sys
import time

import numpy as np
import pytest
import tritonclient.grpc as triton_sync
from tritonclient.utils import InferenceServerException

from rewardgate.config.pipeline_file import ModelSpec
from rewardgate.errors import DeadlineExceeded, InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.sources.likelihood.runner import LikelihoodRunner
from rewardgate.sources.likelihood.spec import LikelihoodSpec
from rewardgate.sources.likelihood.triton_backend import LikelihoodTritonBackend
from rewardgate.sources.likelihood.triton_repository import write_repository
from rewardgate.sources.model.backends.triton import translate_error
from rewardgate.sources.model.triton.local_server import LocalTritonServer
from rewardgate.sources.model.triton.repository import TritonModelSettings
from tests.support.server import REPO_ROOT
from tests.support.tiny_models import build_causal_lm

pytestmark = pytest.mark.slow

ITEMS = [
    ScoringItem("What is 2+2?", "Two plus two makes", reference="four"),
    ScoringItem(
        "Name a color.", "The sky on a clear day is, as everyone who looks up knows,", reference="blue"
    ),
    ScoringItem(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Add 3 and 4."}],
        "It is",
        reference="7",
    ),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("lms")
    return build_causal_lm(root / "policy", seed=5), build_causal_lm(root / "reference", seed=6)


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    policy, reference = models
    workdir = tmp_path_factory.mktemp("triton")
    settings = TritonModelSettings(torch_threads=1, dtype="float32")
    write_repository(policy, "lm", workdir / "repository", settings)
    write_repository(policy, "lm_pair", workdir / "repository", settings, reference_path=reference)
    triton = LocalTritonServer(workdir / "repository", log_path=workdir / "triton.log").start()
    try:
        triton.wait_ready()
    except Exception:
        triton.cleanup()
        raise
    yield triton
    triton.cleanup()


def spec(policy, server, triton_model, **likelihood) -> ModelSpec:
    return ModelSpec(
        kind="likelihood",
        backend="triton",
        path=str(policy),
        triton_url=server.grpc_url,
        triton_model=triton_model,
        dtype="float32",
        likelihood=likelihood or None,
    )


async def scored(backend, items):
    await backend.load()
    try:
        assert backend.is_ready()
        work = await backend.encode(items)
        return await backend.infer([w.payload for w in work], deadline=time.monotonic() + 60), backend.version
    finally:
        await backend.close()


@pytest.mark.parametrize("how", ["mean", "sum", "prob", "mean_prob"])
async def test_triton_and_in_process_agree_to_1e_5(models, server, how):
    policy, _ = models
    remote, version = await scored(
        LikelihoodTritonBackend("lm", spec(policy, server, "lm", reduce=how)), ITEMS
    )
    local = LikelihoodRunner(policy, LikelihoodSpec(reduce=how), dtype="float32")
    expected = local.forward([local.encoder.row(item) for item in ITEMS])
    assert np.allclose(remote, expected, atol=1e-5, rtol=0)
    assert version.startswith(local.version.split("+")[0])  # the weights' hash triton-repo recorded


async def test_a_pair_is_scored_in_one_request_with_the_log_ratio(models, server):
    policy, reference = models
    likelihood = {"span": "response", "reduce": "sum", "reference_model": str(reference), "beta": 0.5}
    backend = LikelihoodTritonBackend("pair", spec(policy, server, "lm_pair", **likelihood))
    remote, _ = await scored(backend, ITEMS)
    local = LikelihoodRunner(policy, LikelihoodSpec(**likelihood), dtype="float32")
    assert np.allclose(remote, local.forward([local.encoder.row(item) for item in ITEMS]), atol=1e-5, rtol=0)
    assert backend.head_names == ["log_ratio", "logp", "ref_logp"]


async def test_per_step_log_ratio_on_triton(models, server):
    policy, reference = models
    likelihood = {"span": "response", "reduce": "per_step", "reference_model": str(reference)}
    item = ScoringItem("What is 2+2?", "", steps=("Add two and two.", "That is four."))
    remote, _ = await scored(
        LikelihoodTritonBackend("prm", spec(policy, server, "lm_pair", **likelihood)), [item]
    )
    local = LikelihoodRunner(policy, LikelihoodSpec(**likelihood), dtype="float32")
    assert np.allclose(remote, local.forward([local.encoder.row(item)]), atol=1e-5, rtol=0)


async def test_refusals_stay_in_the_gateway_and_deadlines_never_reach_triton(models, server):
    policy, _ = models
    backend = LikelihoodTritonBackend("lm", spec(policy, server, "lm"))
    await backend.load()
    try:
        (refused,) = await backend.encode([ScoringItem("2+2?", "four four", reference="four")])
        assert isinstance(refused, InvalidComponentInput)
        (work,) = await backend.encode(ITEMS[:1])
        with pytest.raises(DeadlineExceeded):
            await backend.infer([work.payload], deadline=0.0)
    finally:
        await backend.close()


async def test_a_pair_spec_on_a_single_model_stays_not_ready(models, server):
    policy, reference = models
    backend = LikelihoodTritonBackend("pair", spec(policy, server, "lm", reference_model=str(reference)))
    await backend.load()
    try:
        assert not backend.is_ready()
    finally:
        await backend.close()


def test_malformed_request_is_invalid_argument_from_triton(server):
    client = triton_sync.InferenceServerClient(server.grpc_url)
    arrays = {
        "input_ids": np.array([[1, 2, 3]], dtype=np.int64),
        "lengths": np.array([[3]], dtype=np.int64),
        "starts": np.array([[3]], dtype=np.int64),  # no span token left
    }
    inputs = []
    for name, array in arrays.items():
        inputs.append(triton_sync.InferInput(name, array.shape, "INT64"))
        inputs[-1].set_data_from_numpy(array)
    try:
        with pytest.raises(InferenceServerException) as caught:
            client.infer("lm", inputs)
    finally:
        client.close()
    assert isinstance(translate_error(caught.value), InvalidComponentInput)


def triton_repo(*options):
    return subprocess.run(
        [sys.executable, "-m", "rewardgate", "triton-repo", *map(str, options)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_triton_repo_command_writes_a_likelihood_pair(models, tmp_path):
    policy, reference = models
    result = triton_repo(
        "--kind", "likelihood", "--model", policy, "--reference-model", reference, "--name", "pair",
        "--out", tmp_path, "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "pair" / "config.pbtxt").read_text()
    assert 'name: "starts" data_type: TYPE_INT64 dims: [ 1 ]' in config
    assert 'name: "ref_token_logprobs" data_type: TYPE_FP32 dims: [ -1 ]' in config
    assert f'key: "reference_path" value: {{ string_value: "{reference.resolve()}" }}' in config
    assert "rewardgate.sources.likelihood.triton_model" in (tmp_path / "pair" / "1" / "model.py").read_text()


def test_triton_repo_refuses_a_reference_model_for_a_reward_model(models, tmp_path):
    policy, reference = models
    result = triton_repo("--model", policy, "--reference-model", reference, "--name", "x", "--out", tmp_path)
    assert result.returncode == 2
    assert "--reference-model applies to --kind likelihood only" in result.stderr
