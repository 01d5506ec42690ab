"""The gateway scoring through a real Triton server: batching, crash, restart."""

import asyncio
import collections
import re
import time

import httpx
import pytest

from rewardgate.items import ScoringItem
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess
from tests.support.triton import MODEL_NAME, start_triton

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def triton_server(tiny_rm, tmp_path_factory):
    server = start_triton(tiny_rm, tmp_path_factory.mktemp("triton_e2e"))
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def gateway(tiny_rm, triton_server, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gateway")
    config = write_config(
        workdir / "pipelines.yaml",
        {
            "models": {
                "rm": {
                    "kind": "reward_model",
                    "backend": "triton",
                    "path": str(tiny_rm),
                    "triton_url": triton_server.grpc_url,
                    "triton_model": MODEL_NAME,
                    "batching": {"max_batch_items": 64, "max_wait_ms": 10},
                }
            },
            "pipelines": {"rm": {"components": {"helpful": {"model": "rm", "head": 0}}}},
        },
    )
    process = ServiceProcess(config, env={"REWARDGATE_CACHE_MAX_ENTRIES": "0"}, log_path=workdir / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def triton_counter(server, name):
    match = re.search(rf'^{name}{{model="{MODEL_NAME}",version="1"}} (\S+)$', server.metrics(), re.M)
    return float(match.group(1)) if match else 0.0


def expected_rewards(tiny_rm, responses):
    runner = RewardModelRunner(tiny_rm)
    ids = [runner.encode(ScoringItem("Rate this.", response)).payload for response in responses]
    return [row[0] for row in runner.forward(ids)]


async def post_all(url, bodies, concurrency, timeout_s):
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s) as client:

        async def one(body):
            async with slots:
                return await client.post("/v1/score", json=body)

        return await asyncio.gather(*(one(body) for body in bodies), return_exceptions=True)


def single(response, deadline_ms=None):
    body = {"pipeline": "rm", "items": [{"prompt": "Rate this.", "response": response}]}
    if deadline_ms:
        body["options"] = {"deadline_ms": deadline_ms}
    return body


async def test_single_item_burst_reaches_triton_in_batches_with_local_scores(gateway, triton_server, tiny_rm):
    responses = [f"answer {i} " * (1 + i % 5) for i in range(120)]
    items_before = triton_counter(triton_server, "nv_inference_count")
    calls_before = triton_counter(triton_server, "nv_inference_request_success")
    replies = await post_all(gateway.url, [single(r) for r in responses], concurrency=120, timeout_s=60)
    assert all(reply.status_code == 200 for reply in replies)
    rewards = [reply.json()["results"][0]["reward"] for reply in replies]
    assert rewards == pytest.approx(expected_rewards(tiny_rm, responses), abs=1e-4)
    items = triton_counter(triton_server, "nv_inference_count") - items_before
    calls = triton_counter(triton_server, "nv_inference_request_success") - calls_before
    # A packed request holds a whole gateway batch in Triton's batch dimension 1, so Triton
    # counts one inference per call (docs/triton.md); the scores above cover all 120 items.
    assert items == calls
    assert calls <= 60  # 120 single-item HTTP requests became at most 60 Triton calls


@pytest.mark.chaos
async def test_triton_stalled_mid_burst_gives_answers_or_retryable_errors_within_the_deadline(
    gateway, triton_server, tiny_rm
):
    """SIGSTOP: Triton keeps its sockets open but answers nothing; then SIGCONT."""
    import os
    import signal

    responses = [f"stall {i}" for i in range(24)]
    expected = dict(zip(responses, expected_rewards(tiny_rm, responses), strict=True))
    bodies = [single(r, deadline_ms=2000) for r in responses]
    os.kill(triton_server.process.pid, signal.SIGSTOP)
    try:
        replies = await post_all(gateway.url, bodies, concurrency=8, timeout_s=15)
    finally:
        os.kill(triton_server.process.pid, signal.SIGCONT)
    codes = []
    for response, reply in zip(responses, replies, strict=True):
        assert not isinstance(reply, Exception), f"request hung or broke: {reply!r}"
        codes.append(reply.status_code)
        if reply.status_code == 200:
            assert reply.json()["results"][0]["reward"] == pytest.approx(expected[response], abs=1e-4)
        else:
            # 429: queued items a stalled batch could no longer finish are shed before they start.
            assert reply.status_code in (429, 503, 504), reply.text
            assert reply.json()["error"]["retryable"] is True, reply.text
    assert any(code != 200 for code in codes), codes  # the stall was felt, and answered in time
    print(f"triton stalled: {dict(collections.Counter(codes))}")
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as client:
        while (await client.post("/v1/score", json=single("after stall"))).status_code != 200:
            assert time.monotonic() < deadline, "the gateway did not recover after the stall"
            await asyncio.sleep(0.5)


@pytest.mark.chaos
async def test_triton_killed_mid_burst_then_restarted(gateway, triton_server, tiny_rm):
    responses = [f"burst {i}" for i in range(160)]
    expected = dict(zip(responses, expected_rewards(tiny_rm, responses), strict=True))
    bodies = [single(r, deadline_ms=5000) for r in responses]

    async def kill_soon():
        await asyncio.sleep(0.3)
        await asyncio.to_thread(triton_server.kill)

    started = time.monotonic()
    replies, _ = await asyncio.gather(post_all(gateway.url, bodies, concurrency=8, timeout_s=15), kill_soon())
    assert time.monotonic() - started < 60
    outcomes = {"ok": 0, "retryable": 0, "unavailable": 0}
    for response, reply in zip(responses, replies, strict=True):
        assert not isinstance(reply, Exception), f"request hung or broke: {reply!r}"
        if reply.status_code == 200:
            # An answered item carries the model's real score, never a stand-in.
            assert reply.json()["results"][0]["reward"] == pytest.approx(expected[response], abs=1e-4)
            outcomes["ok"] += 1
        else:
            assert reply.status_code in (429, 503, 504), reply.text  # 429: shed before it started
            assert reply.json()["error"]["retryable"] is True
            assert reply.status_code == 504 or reply.headers.get("retry-after")
            outcomes["retryable"] += 1
            outcomes["unavailable"] += reply.status_code == 503
    assert outcomes["unavailable"] > 0, outcomes  # Triton really went away mid-burst

    await asyncio.to_thread(assert_gateway_recovers_after_triton_restart, gateway, triton_server, tiny_rm)


def assert_gateway_recovers_after_triton_restart(gateway, triton_server, tiny_rm):
    # The gateway reports not-ready while Triton is down ...
    assert httpx.get(gateway.url + "/readyz", timeout=5).status_code == 503
    # ... and resumes by itself once Triton is back on the same address.
    triton_server.start().wait_ready()
    deadline = time.monotonic() + 60
    while True:
        reply = httpx.post(gateway.url + "/v1/score", json=single("after restart"), timeout=15)
        if reply.status_code == 200:
            break
        assert reply.status_code == 503 and time.monotonic() < deadline, reply.text
        time.sleep(0.5)
    assert reply.json()["results"][0]["reward"] == pytest.approx(
        expected_rewards(tiny_rm, ["after restart"])[0], abs=1e-4
    )
    assert httpx.get(gateway.url + "/readyz", timeout=5).status_code == 200
