"""kind: vision_reward_model on a real Triton Inference Server (nvidia-pytriton, CPU): the tiny
random LLaVA reward model gets its images as bytes, runs the same image processor and forward as
in-process, and gives the same numbers; batched equals one at a time; the image changes the
reward; the gateway's batch lengths count image tokens; malformed requests are INVALID_ARGUMENT."""

import asyncio
import subprocess
import sys
import time

import numpy as np
import pytest
import tritonclient.grpc as triton_sync
from tritonclient.utils import InferenceServerException

from rewardgate.config.pipeline_file import ModelSpec
from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.sources.model.backends.triton import translate_error
from rewardgate.sources.model.backends.triton_vision import VisionTritonBackend, image_batch
from rewardgate.sources.model.random_vision import build_vision_reward_model
from rewardgate.sources.model.runners.vision_reward_model import VisionRewardModelRunner
from rewardgate.sources.model.triton.local_server import LocalTritonServer
from rewardgate.sources.model.triton.repository import TritonModelSettings
from rewardgate.sources.model.triton.repository import write_repository as write_text_repository
from rewardgate.sources.model.triton.vision_repository import write_repository
from tests.support.images import data_url, png
from tests.support.server import REPO_ROOT
from tests.support.tiny_models import build_reward_model

pytestmark = pytest.mark.slow

RED, DARK = png(64, 48, (255, 0, 0)), png(64, 48, (30, 0, 0))
BLUE = png(30, 90, (0, 0, 255), box=(5, 5, 20, 20))


def canonical(prompt, response="A square.", response_images=()) -> ScoringItem:
    """The item as the scorer has it after validation (canonical image parts)."""
    item = ScoringItem(prompt, response, response_images=tuple(data_url(i) for i in response_images))
    call = ScoreCall("p", [CallItem(None, item, None)], CallOptions())
    return validate_call(call, Limits(4, 10_000, 10_000, 60_000)).items[0]


def with_images(*images, text="What colour is it?", response="A square."):
    parts = [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in images]
    return canonical([{"role": "user", "content": [*parts, {"type": "text", "text": text}]}], response)


ITEMS = [
    with_images(RED),
    with_images(BLUE, RED, text="Compare them."),
    canonical("What is two plus two?", "four"),
    with_images(DARK, response="The answer is four, because two plus two is four."),
    canonical("Draw a red square.", "", response_images=[RED]),
]


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    return build_vision_reward_model(tmp_path_factory.mktemp("vlm"), num_labels=2)


@pytest.fixture(scope="module")
def local(vlm):
    return VisionRewardModelRunner(vlm, dtype="float32")


@pytest.fixture(scope="module")
def text_rm(tmp_path_factory):
    return build_reward_model(tmp_path_factory.mktemp("rm"))


@pytest.fixture(scope="module")
def server(vlm, text_rm, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("triton")
    settings = TritonModelSettings(torch_threads=1, dtype="float32")
    write_repository(vlm, "vlm", workdir / "repository", settings)
    # Triton's own batcher in front: requests of other callers merged into one execution.
    batched = TritonModelSettings(
        torch_threads=1, dtype="float32", dynamic_batching=True, max_queue_delay_us=100_000
    )
    write_repository(vlm, "vlm_batched", workdir / "repository", batched)
    write_text_repository(text_rm, "rm", workdir / "repository", settings)  # a text reward model beside it
    triton = LocalTritonServer(workdir / "repository", log_path=workdir / "triton.log").start()
    try:
        triton.wait_ready()
    except Exception:
        triton.cleanup()
        raise
    yield triton
    triton.cleanup()


@pytest.fixture
async def backend(vlm, server):
    spec = ModelSpec(
        kind="vision_reward_model",
        backend="triton",
        path=str(vlm),
        triton_url=server.grpc_url,
        triton_model="vlm",
        dtype="float32",
    )
    backend = VisionTritonBackend("vlm", spec)
    await backend.load()
    assert backend.is_ready()
    yield backend
    await backend.close()


async def remote_scores(backend, items):
    work = await backend.encode(items)
    return await backend.infer([w.payload for w in work], deadline=time.monotonic() + 60)


async def test_triton_scores_equal_in_process_scores(backend, local):
    remote = await remote_scores(backend, ITEMS)
    expected = local.forward([w.payload for w in local.encode_many(ITEMS)])
    assert np.allclose(remote, expected, atol=1e-5, rtol=0)
    assert len({round(row[0], 4) for row in remote}) == len(ITEMS)  # nothing collapsed to one value
    assert backend.head_names == ["head0", "head1"]
    assert backend.version == local.version  # the weights' hash triton-repo recorded


async def test_batched_equals_one_at_a_time_on_triton(backend):
    batched = await remote_scores(backend, ITEMS)
    singles = await asyncio.gather(*(remote_scores(backend, [item]) for item in ITEMS))
    for (single,), row in zip(singles, batched, strict=True):
        assert single == pytest.approx(row, abs=1e-5)


async def test_the_image_changes_the_reward_on_triton(backend):
    red, dark, again = await remote_scores(backend, [with_images(RED), with_images(DARK), with_images(RED)])
    assert red[0] != pytest.approx(dark[0], abs=1e-4)
    assert red == pytest.approx(again, abs=1e-6)


async def test_the_gateway_budgets_image_tokens_and_keeps_no_pixels(backend, local):
    text_only, one, two = await backend.encode(
        [
            canonical([{"role": "user", "content": "What colour is it?"}]),
            with_images(RED),
            with_images(RED, BLUE),
        ]
    )
    assert one.length - text_only.length == 16  # 56x56 pixels in 14x14 patches
    assert two.length - one.length == 16
    assert [w.length for w in (text_only, one, two)] == [
        w.length
        for w in local.encode_many(
            [
                canonical([{"role": "user", "content": "What colour is it?"}]),
                with_images(RED),
                with_images(RED, BLUE),
            ]
        )
    ]
    assert two.payload.images == (RED, BLUE) and two.payload.pixels is None  # bytes travel, not pixels


def infer_raw(server, ids, images, counts, model="vlm"):
    ids = np.asarray(ids, dtype=np.int64)
    arrays = {
        "input_ids": ("INT64", ids),
        "lengths": ("INT64", np.array([[ids.shape[1]]] * ids.shape[0], dtype=np.int64)),
        "images": ("BYTES", np.asarray(images, dtype=np.object_)),
        "image_counts": ("INT64", np.asarray(counts, dtype=np.int64)),
    }
    inputs = []
    for name, (dtype, array) in arrays.items():
        inputs.append(triton_sync.InferInput(name, list(array.shape), dtype))
        inputs[-1].set_data_from_numpy(array)
    client = triton_sync.InferenceServerClient(server.grpc_url)
    try:
        return client.infer(model, inputs).as_numpy("rewards")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("images", "counts", "words"),
    [
        ([[b"<html>not an image</html>"]], [[1]], "row 0, image 0"),
        ([[RED[:60]]], [[1]], "row 0, image 0"),  # truncated
        ([[b""]], [[2]], "image_counts must be within 0..1"),
        ([[b""]], [[0]], "16 image tokens for 0 images"),  # the backbone would embed them as text
        ([[RED, RED]], [[2]], "the model refused the request"),  # 16 image tokens for two images
    ],
    ids=["not-an-image", "truncated", "count-beyond-k", "tokens-without-image", "tokens-for-one-of-two"],
)
def test_malformed_requests_are_invalid_argument(server, local, images, counts, words):
    (work,) = local.encode_many([with_images(RED)])
    with pytest.raises(InferenceServerException, match=words) as caught:
        infer_raw(server, [work.payload.ids], images, counts)
    assert isinstance(translate_error(caught.value), InvalidComponentInput)


def test_a_well_formed_raw_request_matches(server, local):
    (work,) = local.encode_many([with_images(RED)])
    images, counts = image_batch([work.payload])
    rewards = infer_raw(server, [work.payload.ids], images, counts)
    assert np.allclose(rewards, local.forward([work.payload]), atol=1e-5, rtol=0)


def test_triton_repo_command_writes_a_vision_repository(vlm, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rewardgate", "triton-repo", "--kind", "vision_reward_model",
         "--model", str(vlm), "--name", "vlm", "--out", str(tmp_path), "--device", "cpu"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "vlm" / "config.pbtxt").read_text()
    assert 'name: "images" data_type: TYPE_STRING dims: [ -1 ]' in config
    assert 'name: "image_counts" data_type: TYPE_INT64 dims: [ 1 ]' in config
    assert 'name: "rewards" data_type: TYPE_FP32 dims: [ 2 ]' in config
    assert "rewardgate.sources.model.triton.vision_model" in (tmp_path / "vlm" / "1" / "model.py").read_text()


def test_triton_batcher_merged_requests_are_answered_each_on_its_own(server, local):
    """Concurrent requests to a model behind Triton's dynamic batcher (which may run them in one
    execution): each well-formed one gets its in-process reward, the refused one its own error."""
    from concurrent.futures import ThreadPoolExecutor

    items = [with_images(image) for image in (RED, DARK, RED, DARK)]
    work = local.encode_many(items)
    expected = local.forward([w.payload for w in work])
    requests = [([w.payload.ids], *image_batch([w.payload])) for w in work]
    # Image tokens with no image: refused on its own, without failing the others.
    requests.append(([work[0].payload.ids], np.array([[b""]], dtype=np.object_), np.array([[0]])))
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(infer_raw, server, *request, model="vlm_batched") for request in requests]
        answers = [future.exception() or future.result() for future in futures]
    for answer, row in zip(answers[:-1], expected, strict=True):
        assert np.allclose(answer, [row], atol=1e-5, rtol=0)
    assert isinstance(answers[-1], InferenceServerException)
    assert isinstance(translate_error(answers[-1]), InvalidComponentInput)


@pytest.mark.parametrize(
    ("kind", "backend_class", "triton_model"),
    [("reward_model", "TritonBackend", "vlm"), ("vision_reward_model", "VisionTritonBackend", "rm")],
)
async def test_a_model_of_another_kind_on_triton_keeps_the_backend_not_ready(
    vlm, text_rm, server, kind, backend_class, triton_model
):
    """A text reward model pointed at the VLM's Triton model, or a VLM at a text reward model's,
    would fail every batch with INVALID_ARGUMENT blamed on the items: it stays not ready instead."""
    from rewardgate.sources.model.backends import triton as text_triton
    from rewardgate.sources.model.backends import triton_vision

    module = triton_vision if kind == "vision_reward_model" else text_triton
    path = vlm if kind == "vision_reward_model" else text_rm
    spec = ModelSpec(
        kind=kind, backend="triton", path=str(path), triton_url=server.grpc_url, triton_model=triton_model
    )
    backend = getattr(module, backend_class)("other", spec)
    await backend.load()
    try:
        assert not backend.is_ready()
    finally:
        await backend.close()
