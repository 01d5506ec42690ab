"""The Triton backend against a real Triton Inference Server (CPU)."""

import subprocess
import sys
import time

import numpy as np
import pytest
import tritonclient.grpc as triton_sync
from tritonclient.utils import InferenceServerException

from rewardgate.config.pipeline_file import ModelSpec
from rewardgate.errors import BackendError, BackendUnavailable, DeadlineExceeded, InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.sources.model.backends.triton import TritonBackend, translate_error
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.triton.repository import TritonModelSettings, write_repository
from tests.support.server import REPO_ROOT
from tests.support.tiny_models import build_reward_model
from tests.support.triton import MODEL_NAME, start_triton_models

pytestmark = pytest.mark.slow

ITEMS = [
    ScoringItem("What is 2+2?", "four"),
    ScoringItem("What is 2+2?", "The answer is four, because two plus two is four. " * 3),
    ScoringItem([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "Hello"),
    ScoringItem("", "x"),
]


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    return build_reward_model(tmp_path_factory.mktemp("rm"), num_labels=2)


# The same weights three times: as triton-repo writes them by default (no Triton
# batcher: the gateway sends whole batches), with Triton's dynamic batcher, and as a
# repository written before the packed inputs existed (padded requests only).
BATCHED_MODEL = "tiny_rm_triton_batcher"
PADDED_ONLY_MODEL = "tiny_rm_padded_only"


@pytest.fixture(scope="module")
def triton_server(tiny_rm, tmp_path_factory):
    models = {MODEL_NAME: {}, BATCHED_MODEL: {"dynamic_batching": True}}
    workdir = tmp_path_factory.mktemp("triton")
    repository = workdir / "repository"
    write_repository(
        tiny_rm, PADDED_ONLY_MODEL, repository, TritonModelSettings(torch_threads=1, device="cpu")
    )
    config = repository / PADDED_ONLY_MODEL / "config.pbtxt"
    text = config.read_text()
    for packed in ("token_ids", "token_lengths", "packed_rewards"):
        text = "\n".join(line for line in text.splitlines() if f'"{packed}"' not in line) + "\n"
    config.write_text(text.replace(" optional: true", ""))
    server = start_triton_models(tiny_rm, workdir, models)
    yield server
    server.cleanup()


class SentRequests:
    """Wraps a real client's ``infer`` and keeps what each call sent (names, shapes, ids)."""

    def __init__(self, backend: TritonBackend) -> None:
        self.sent: list[dict[str, np.ndarray]] = []
        self._infer = backend._client.infer
        backend._client.infer = self

    async def __call__(self, model, inputs, **kwargs):
        self.sent.append(
            {i.name(): np.frombuffer(i._get_content(), dtype=np.int64).reshape(i.shape()) for i in inputs}
        )
        return await self._infer(model, inputs, **kwargs)


@pytest.mark.parametrize("triton_model", [MODEL_NAME, BATCHED_MODEL])
async def test_the_wire_carries_every_token_once_and_no_padding(tiny_rm, triton_server, triton_model):
    backend = TritonBackend("rm", spec_for(tiny_rm, triton_server, triton_model))
    await backend.load()
    try:
        sent = SentRequests(backend)
        payloads = [w.payload for w in await backend.encode(ITEMS)]
        remote = await backend.infer(payloads, deadline=time.monotonic() + 30)
    finally:
        await backend.close()
    [request] = sent.sent
    assert set(request) == {"token_ids", "token_lengths"}
    assert request["token_ids"].shape == (1, sum(map(len, payloads)))  # not rows x longest
    assert request["token_ids"][0].tolist() == [t for ids in payloads for t in ids]
    assert request["token_lengths"][0].tolist() == [len(ids) for ids in payloads]
    local = RewardModelRunner(tiny_rm).forward(payloads)
    assert np.allclose(remote, local, atol=1e-4)
    assert len({round(r[0], 4) for r in remote}) > 1  # scores differ per item


async def test_a_repository_without_packed_inputs_still_gets_padded_requests(tiny_rm, triton_server):
    backend = TritonBackend("rm", spec_for(tiny_rm, triton_server, PADDED_ONLY_MODEL))
    await backend.load()
    try:
        assert backend.is_ready()
        sent = SentRequests(backend)
        payloads = [w.payload for w in await backend.encode(ITEMS)]
        remote = await backend.infer(payloads, deadline=time.monotonic() + 30)
    finally:
        await backend.close()
    assert set(sent.sent[0]) == {"input_ids", "lengths"}
    assert np.allclose(remote, RewardModelRunner(tiny_rm).forward(payloads), atol=1e-4)


@pytest.mark.parametrize(
    ("ids", "lengths"),
    [
        ([[1, 2, 3]], [[2, 2]]),
        ([[1, 2, 3]], [[3, 0]]),
        ([[1, 2]], [[]]),
        ([[1, -2]], [[2]]),
        ([[1, 10**9]], [[2]]),
    ],
    ids=["lengths-exceed-ids", "empty-sequence", "no-sequence", "negative-id", "id-beyond-vocabulary"],
)
def test_malformed_packed_request_is_invalid_argument(triton_server, ids, lengths):
    client = triton_sync.InferenceServerClient(triton_server.grpc_url)
    arrays = {"token_ids": np.array(ids, dtype=np.int64), "token_lengths": np.array(lengths, dtype=np.int64)}
    inputs = []
    for name, array in arrays.items():
        inputs.append(triton_sync.InferInput(name, list(array.shape), "INT64"))
        inputs[-1].set_data_from_numpy(array)
    try:
        with pytest.raises(InferenceServerException) as caught:
            client.infer(MODEL_NAME, inputs, outputs=[triton_sync.InferRequestedOutput("packed_rewards")])
    finally:
        client.close()
    assert isinstance(translate_error(caught.value), InvalidComponentInput)


def spec_for(tiny_rm, server, triton_model=MODEL_NAME, **overrides):
    return ModelSpec(
        kind="reward_model",
        backend="triton",
        path=str(tiny_rm),
        triton_url=server.grpc_url,
        triton_model=triton_model,
        **overrides,
    )


@pytest.mark.parametrize("triton_model", [MODEL_NAME, BATCHED_MODEL])
async def test_triton_and_local_backends_agree_within_1e_4(tiny_rm, triton_server, triton_model):
    backend = TritonBackend("rm", spec_for(tiny_rm, triton_server, triton_model))
    await backend.load()
    try:
        assert backend.is_ready()
        work = await backend.encode(ITEMS)
        remote = await backend.infer([w.payload for w in work], deadline=time.monotonic() + 30)
        local = RewardModelRunner(tiny_rm).forward([w.payload for w in work])
        assert np.allclose(remote, local, atol=1e-4)
        assert backend.head_names == ["head0", "head1"]
        # The version Triton reports is the hash triton-repo recorded for these weights.
        assert backend.version == RewardModelRunner(tiny_rm).version
    finally:
        await backend.close()


async def test_an_expired_deadline_never_reaches_triton(tiny_rm, triton_server):
    backend = TritonBackend("rm", spec_for(tiny_rm, triton_server))
    await backend.load()
    try:
        with pytest.raises(DeadlineExceeded):
            await backend.infer([[1, 2, 3]], deadline=0.0)
    finally:
        await backend.close()


def test_only_the_batcher_entry_has_tritons_dynamic_batcher(triton_server):
    client = triton_sync.InferenceServerClient(triton_server.grpc_url)
    try:
        plain = client.get_model_config(MODEL_NAME, as_json=True)["config"]
        batched = client.get_model_config(BATCHED_MODEL, as_json=True)["config"]
    finally:
        client.close()
    assert "dynamic_batching" not in plain
    policy = batched["dynamic_batching"]["default_queue_policy"]  # REJECT, the default, is not listed
    assert policy["allow_timeout_override"] and policy["max_queue_size"] == 256


def test_malformed_request_is_invalid_argument_from_triton(triton_server):
    client = triton_sync.InferenceServerClient(triton_server.grpc_url)
    ids = np.array([[1, 2]], dtype=np.int64)
    lengths = np.array([[5]], dtype=np.int64)  # longer than the row
    inputs = [
        triton_sync.InferInput("input_ids", ids.shape, "INT64"),
        triton_sync.InferInput("lengths", lengths.shape, "INT64"),
    ]
    inputs[0].set_data_from_numpy(ids)
    inputs[1].set_data_from_numpy(lengths)
    with pytest.raises(InferenceServerException) as caught:
        client.infer(MODEL_NAME, inputs)
    assert isinstance(translate_error(caught.value), InvalidComponentInput)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("StatusCode.UNAVAILABLE", BackendUnavailable),
        ("StatusCode.RESOURCE_EXHAUSTED", BackendUnavailable),
        ("StatusCode.DEADLINE_EXCEEDED", DeadlineExceeded),
        ("StatusCode.INVALID_ARGUMENT", InvalidComponentInput),
        ("StatusCode.INTERNAL", BackendError),
    ],
)
def test_triton_status_codes_map_to_typed_errors(status, expected):
    assert isinstance(translate_error(InferenceServerException("boom", status=status)), expected)


async def test_gateway_batch_larger_than_tritons_limit_is_refused_at_load(tiny_rm, triton_server):
    backend = TritonBackend("rm", spec_for(tiny_rm, triton_server, batching={"max_batch_items": 512}))
    await backend.load()
    try:
        assert not backend.is_ready()
    finally:
        await backend.close()


def test_triton_repo_command_writes_config_with_output_width(tiny_rm, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardgate",
            "triton-repo",
            "--model",
            str(tiny_rm),
            "--name",
            "rm",
            "--out",
            str(tmp_path),
            "--max-batch-size",
            "32",
            "--device",
            "cpu",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "rm" / "config.pbtxt").read_text()
    assert 'name: "rewards" data_type: TYPE_FP32 dims: [ 2 ]' in config
    assert "max_batch_size: 32" in config and "kind: KIND_CPU" in config
    assert f'string_value: "{tiny_rm.resolve()}"' in config
    assert "TritonPythonModel" in (tmp_path / "rm" / "1" / "model.py").read_text()
    assert "dynamic_batching" not in config


def test_triton_repo_command_adds_tritons_batcher_on_request(tiny_rm, tmp_path):
    command = [sys.executable, "-m", "rewardgate", "triton-repo", "--model", str(tiny_rm), "--name", "rm"]
    options = ["--out", str(tmp_path), "--device", "cpu", "--dynamic-batching", "--max-queue-size", "9"]
    result = subprocess.run(command + options, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "rm" / "config.pbtxt").read_text()
    assert "dynamic_batching {" in config and "max_queue_size: 9" in config
