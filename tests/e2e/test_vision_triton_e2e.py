"""A VLM reward model served by a real Triton (nvidia-pytriton, CPU) behind the running gateway,
over HTTP and gRPC: the rewards equal the in-process runner's, batched equals one at a time, the
image changes the reward, and the gateway's batch budget counts the image tokens (Triton's own
request counter shows the batches)."""

import re

import pytest
from rewardgate_client import RewardClient

from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.items import ScoringItem
from rewardgate.sources.model.random_vision import build_vision_reward_model
from rewardgate.sources.model.runners.vision_reward_model import VisionRewardModelRunner
from rewardgate.sources.model.triton.local_server import LocalTritonServer
from rewardgate.sources.model.triton.repository import TritonModelSettings
from rewardgate.sources.model.triton.vision_repository import write_repository
from tests.e2e.conftest import write_config
from tests.support.images import data_url, png
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow

COLOURS = [(255, 0, 0), (30, 0, 0), (0, 0, 255), (0, 200, 0), (250, 250, 250), (120, 60, 200)]
IMAGES = [png(64, 48, colour) for colour in COLOURS]
TRITON_MODEL = "vlm"


def body(image: bytes, response="A square.") -> dict:
    content = [
        {"type": "image_url", "image_url": {"url": data_url(image)}},
        {"type": "text", "text": "Describe it."},
    ]
    return {"prompt": [{"role": "user", "content": content}], "response": response}


def canonical(item: dict) -> ScoringItem:
    call = ScoreCall("p", [CallItem(None, ScoringItem(item["prompt"], item["response"]))], CallOptions())
    return validate_call(call, Limits(4, 10_000, 10_000, 60_000)).items[0]


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    return build_vision_reward_model(tmp_path_factory.mktemp("vlm"), num_labels=2)


@pytest.fixture(scope="module")
def local(vlm):
    return VisionRewardModelRunner(vlm, dtype="float32")


@pytest.fixture(scope="module")
def triton_server(vlm, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("triton_vlm")
    write_repository(
        vlm, TRITON_MODEL, workdir / "repository", TritonModelSettings(torch_threads=1, dtype="float32")
    )
    server = LocalTritonServer(workdir / "repository", log_path=workdir / "triton.log").start()
    try:
        server.wait_ready()
    except Exception:
        server.cleanup()
        raise
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def image_item_tokens(local):
    (work,) = local.encode_many([canonical(body(IMAGES[0]))])
    return work.length


@pytest.fixture(scope="module")
def gateway(vlm, triton_server, image_item_tokens, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gateway")

    def model(**batching):
        return {
            "kind": "vision_reward_model",
            "backend": "triton",
            "path": str(vlm),
            "triton_url": triton_server.grpc_url,
            "triton_model": TRITON_MODEL,
            "batching": {"max_batch_items": 64, "max_wait_ms": 20, **batching},
        }

    config = write_config(
        workdir / "pipelines.yaml",
        {
            "models": {
                "wide": model(),
                # Room for two image items a batch: only if their image tokens are counted.
                "narrow": model(max_batch_tokens=2 * image_item_tokens),
            },
            "pipelines": {
                "wide": {"components": {"rm": {"model": "wide", "head": 0}}},
                "narrow": {"components": {"rm": {"model": "narrow", "head": 0}}},
            },
        },
    )
    process = ServiceProcess(config, env={"REWARDGATE_CACHE_MAX_ENTRIES": "0"}, log_path=workdir / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def triton_requests(server) -> float:
    pattern = rf'^nv_inference_request_success{{model="{TRITON_MODEL}",version="1"}} (\S+)$'
    match = re.search(pattern, server.metrics(), re.M)
    return float(match.group(1)) if match else 0.0


def transports(gateway):
    return gateway.url, f"grpc://{gateway.grpc_target}"


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_triton_rewards_equal_in_process_and_the_image_changes_them(gateway, local, transport):
    items = [body(image) for image in IMAGES]
    expected = [
        row[0] for row in local.forward([w.payload for w in local.encode_many(list(map(canonical, items)))])
    ]
    with RewardClient(transports(gateway)[transport]) as client:
        batched = [result.reward for result in client.score(items, "wide")]
        singles = [client.score([item], "wide")[0].reward for item in items]
    assert batched == pytest.approx(expected, abs=1e-5)
    assert singles == pytest.approx(batched, abs=1e-5)
    assert len({round(reward, 4) for reward in batched}) == len(IMAGES)  # each image its own reward


def test_the_batch_budget_counts_image_tokens(gateway, triton_server):
    items = [body(image) for image in IMAGES]
    with RewardClient(gateway.url) as client:
        before = triton_requests(triton_server)
        assert all(result.ok for result in client.score(items, "narrow"))
        narrow = triton_requests(triton_server) - before
        before = triton_requests(triton_server)
        assert all(result.ok for result in client.score(items, "wide"))
        wide = triton_requests(triton_server) - before
    assert wide == 1  # six items, one batch: one Triton request
    assert narrow == len(IMAGES) / 2  # two image items fill a batch's token budget
