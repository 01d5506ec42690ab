"""The service with REWARDGATE_REDIS_URL set, against a private redis-server."""

import asyncio
import threading
import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import write_config
from tests.support.redis_server import RedisServer
from tests.support.server import ServiceProcess
from tests.support.server import score_ok as score

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, tiny_rm, redis_server):
    """Two gateway processes sharing one Redis."""
    workdir = tmp_path_factory.mktemp("redis_e2e")
    config = write_config(
        workdir / "pipelines.yaml",
        {
            "models": {
                "rm": {
                    "kind": "reward_model",
                    "path": str(tiny_rm),
                    "batching": {"max_batch_items": 64, "max_wait_ms": 20},
                }
            },
            "rules": {"exact": {"type": "exact_match"}, "math": {"type": "math_verify"}},
            "pipelines": {
                "combo": {"components": {"rm": {"model": "rm"}, "match": {"rule": "exact"}}},
                "rm": {"components": {"rm": {"model": "rm"}}},
                "math": {"components": {"correct": {"rule": "math"}}},
            },
        },
    )
    env = {"REWARDGATE_REDIS_URL": redis_server.url, "REWARDGATE_REDIS_BREAKER_RESET_S": "0.5"}
    processes = [ServiceProcess(config, env=env, log_path=workdir / f"replica{i}.log") for i in range(2)]
    try:
        yield [process.wait() for process in processes]
    finally:
        for process in processes:
            process.stop()


def fresh_items(n, reference="yes"):
    tag = uuid.uuid4().hex
    return [{"prompt": "q", "response": f"{tag} answer {i}", "reference": reference} for i in range(n)]


def test_second_request_is_served_from_redis_bit_for_bit_even_by_another_replica(replicas, redis_server):
    first_replica, second_replica = replicas
    items = fresh_items(8)
    first = score(first_replica, "combo", items)
    assert all(r["cached"] == [] for r in first["results"])
    again = score(first_replica, "combo", items)
    other = score(second_replica, "combo", items)
    for reply in (again, other):
        assert all(sorted(r["cached"]) == ["match", "rm"] for r in reply["results"])
        assert reply["usage"]["cache_hits"] == 16 and reply["usage"]["model_tokens"] == 0
        # JSON floats round-trip exactly: equal here means equal bit for bit.
        assert [r["components"] for r in reply["results"]] == [r["components"] for r in first["results"]]
    assert redis_server.client().keys("rewardgate:v1:*")


@pytest.mark.chaos
async def test_redis_stalled_mid_burst_costs_misses_not_requests(replicas, redis_server):
    """SIGSTOP: Redis keeps its connections open but answers nothing (a hung host)."""
    import os
    import signal

    service = replicas[0]

    async def burst(client):
        bodies = [{"pipeline": "combo" if i % 2 else "rm", "items": fresh_items(2)} for i in range(80)]
        slots = asyncio.Semaphore(16)

        async def one(body):
            async with slots:
                return await client.post("/v1/score", json=body)

        return await asyncio.gather(*(one(body) for body in bodies))

    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            responses = await burst(client)
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
    failed = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 200]
    assert failed == [], failed
    assert all(isinstance(r["reward"], float) for resp in responses for r in resp.json()["results"])
    assert service.metric("rewardgate_cache_operations_total", op="get", outcome="error") > 0
    print(f"redis stalled: {len(responses)} requests, all 200")


@pytest.mark.chaos
async def test_redis_stopped_mid_burst_fails_no_request_and_hits_resume(replicas, redis_server):
    service = replicas[0]
    answered = 0
    stopped = threading.Event()

    async def one(client, i):
        nonlocal answered
        pipeline = "combo" if i % 2 else "rm"
        response = await client.post("/v1/score", json={"pipeline": pipeline, "items": fresh_items(2)})
        answered += 1
        if answered == 60 and not stopped.is_set():
            stopped.set()
            await asyncio.to_thread(redis_server.stop)
        return response

    slots = asyncio.Semaphore(16)

    async def limited(client, i):
        async with slots:
            return await one(client, i)

    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            responses = await asyncio.gather(*(limited(client, i) for i in range(240)))
        assert stopped.is_set()
        failed = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 200]
        assert failed == [], failed
        for response in responses:
            assert all(isinstance(r["reward"], float) for r in response.json()["results"]), response.text
        assert service.metric("rewardgate_cache_operations_total", op="get", outcome="error") > 0
    finally:
        redis_server.start()
    # Recovery without restarting the service: a repeated item is a hit again.
    items = fresh_items(1)
    deadline = time.monotonic() + 30
    while True:
        score(service, "combo", items)
        if score(service, "combo", items)["results"][0]["cached"]:
            break
        assert time.monotonic() < deadline, (
            "cache hits did not resume after Redis came back: breaker state "
            f"{service.metric('rewardgate_cache_breaker_state')}, log: {service.log()[-1500:]}"
        )
        await asyncio.sleep(0.3)
    assert service.metric("rewardgate_cache_breaker_state") == 0
    assert redis_server.client().keys("rewardgate:v1:*")


@pytest.mark.parametrize(
    ("pipeline", "metric", "labels"),
    [
        ("rm", "rewardgate_batch_size_sum", {"model": "rm"}),
        ("math", "rewardgate_rule_duration_seconds_count", {"rule": "rule:math"}),
    ],
)
async def test_a_thousand_concurrent_identical_items_are_computed_once(replicas, pipeline, metric, labels):
    service = replicas[0]
    item = {"prompt": "q", "response": f"\\boxed{{{uuid.uuid4().int % 1000}}}", "reference": "7"}
    before = service.metric(metric, **labels)
    async with httpx.AsyncClient(
        base_url=service.url, timeout=60, limits=httpx.Limits(max_connections=50)
    ) as client:

        async def post():
            # Admission may refuse some of the 1,000 items on a loaded machine (429): a
            # trainer retries after Retry-After, and the retry reads the cache or joins the
            # flight, so the item is still computed once.
            for _ in range(20):
                response = await client.post("/v1/score", json={"pipeline": pipeline, "items": [item] * 20})
                if response.status_code != 429:
                    return response
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            return response

        responses = await asyncio.gather(*(post() for _ in range(50)))
    refused = [r.text for r in responses if r.status_code != 200]
    assert not refused, refused
    rewards = {r["reward"] for response in responses for r in response.json()["results"]}
    assert len(rewards) == 1 and isinstance(rewards.pop(), float)
    assert service.metric(metric, **labels) - before == 1
