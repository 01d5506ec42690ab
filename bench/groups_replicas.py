"""How a group's samples meet across replicas: client affinity vs forwarding, side by side.

A GRPO workload (``--groups`` groups of ``--size`` samples, every sample its own
``/v1/score`` request on the shipped ``ttrl_math`` pipeline, ``--concurrency``
requests in flight) against service processes started here, in rounds whose
order rotates:

* ``one_replica``: one service, every sample sent to it;
* ``two_affinity``: two replicas with ``REWARDGATE_GROUP_PEERS``; the caller
  sends each sample straight to the replica owning its group (what client-side
  affinity by group id achieves: no extra hop);
* ``two_forwarded``: the same two replicas, samples alternated between them as a
  Service spreads them; a sample reaching the non-owner is forwarded (one
  extra HTTP hop for about half of them).

Reported per side: wall seconds for the whole workload, and per-sample latency
p50/p95 (which includes waiting for the group's last sample). With
``--redis URL``, the round trips a shared Redis store would need at the least
(one pipelined RPUSH+EXPIRE to publish the sample, one GET to read its
result) are timed at the same concurrency, as the floor of that third design.
The last line is JSON.

    python bench/groups_replicas.py [--groups 32] [--size 8] [--concurrency 32] [--rounds 3]
                                    [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._rounds import in_rotated_rounds  # noqa: E402
from rewardgate.config.settings import default_pipeline_file  # noqa: E402
from rewardgate.groups.peers import owner_of  # noqa: E402
from tests.support.server import ServiceProcess, free_ports  # noqa: E402

ANSWERS = [r"\boxed{42}", r"\boxed{42.0}", r"\boxed{41}", r"The answer is \boxed{42}"]


def workload(tag: str, groups: int, size: int) -> list[dict]:
    return [
        {
            "id": f"{tag}-{g}-{i}",
            "prompt": "What is 6 x 7?",
            "response": ANSWERS[i % len(ANSWERS)] + f" (sample {i})",
            "group": {"id": f"{tag}-{g}", "size": size},
        }
        for g in range(groups)
        for i in range(size)
    ]


async def run(targets, items: list[dict], concurrency: int) -> dict:
    """Send every item alone to ``targets(index, item)``; wall time and latencies."""
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency * 2)) as client:

        async def one(index: int, item: dict) -> None:
            async with limit:
                started = time.perf_counter()
                body = {"pipeline": "ttrl_math", "items": [item], "options": {"deadline_ms": 60000}}
                reply = await client.post(targets(index, item) + "/v1/score", json=body)
                latencies.append(time.perf_counter() - started)
                result = reply.json()["results"][0]
                assert reply.status_code == 200 and result["status"] == "ok", reply.text

        started = time.perf_counter()
        # Group by group: with at most `concurrency` requests open, waiting samples of more
        # groups than fit would hold every slot while their siblings queue (docs/groups.md).
        await asyncio.gather(*(one(k, item) for k, item in enumerate(items)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "wall_s": wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


async def redis_floor(url: str, samples: int, concurrency: int) -> dict:
    import redis.asyncio as redis

    client = redis.from_url(url)
    limit = asyncio.Semaphore(concurrency)
    payload = json.dumps(workload("r", 1, 1)[0]).encode()
    latencies: list[float] = []

    async def one(index: int) -> None:
        async with limit:
            started = time.perf_counter()
            async with client.pipeline(transaction=False) as pipe:
                pipe.rpush(f"bench:group:{index // 8}", payload)
                pipe.expire(f"bench:group:{index // 8}", 60)
                await pipe.execute()
            await client.get(f"bench:result:{index}")
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one(i) for i in range(samples)))
    await client.aclose()
    return {"p50_ms": 1000 * statistics.median(latencies)}


def summary(values: list[dict]) -> dict:
    return {key: statistics.median(v[key] for v in values) for key in values[0]}


async def main(args) -> dict:
    config = default_pipeline_file()
    http_a, http_b, grpc_a, grpc_b, grpc_c = free_ports(5)
    peers = f"http://127.0.0.1:{http_a},http://127.0.0.1:{http_b}"
    env = {"REWARDGATE_GROUP_PEERS": peers, "REWARDGATE_ACCESS_LOG": "false"}
    pods = [
        ServiceProcess(config, env=env, port=http_a, grpc_port=grpc_a),
        ServiceProcess(config, env=env, port=http_b, grpc_port=grpc_b),
    ]
    alone = ServiceProcess(config, env={"REWARDGATE_ACCESS_LOG": "false"}, grpc_port=grpc_c)
    try:
        for process in (*pods, alone):
            process.wait()
        urls = [pod.url for pod in pods]
        counter = {"round": 0}

        def side(targets):
            async def measure() -> dict:
                counter["round"] += 1
                items = workload(f"r{counter['round']}", args.groups, args.size)
                return await run(targets, items, args.concurrency)

            return measure

        runs = {
            "one_replica": side(lambda index, item: alone.url),
            "two_affinity": side(lambda index, item: owner_of(item["group"]["id"], urls)),
            "two_forwarded": side(lambda index, item: urls[index % 2]),
        }
        results = {
            name: summary(values) for name, values in (await in_rotated_rounds(runs, args.rounds)).items()
        }
        results["forwarded_over_affinity_p50"] = (
            results["two_forwarded"]["p50_ms"] / results["two_affinity"]["p50_ms"]
        )
        results["forwarded_over_affinity_wall"] = (
            results["two_forwarded"]["wall_s"] / results["two_affinity"]["wall_s"]
        )
        if args.redis:
            results["redis_store_floor"] = await redis_floor(
                args.redis, args.groups * args.size, args.concurrency
            )
        return results
    finally:
        for process in (*pods, alone):
            process.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=32)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", default=None)
    report = asyncio.run(main(parser.parse_args()))
    for name, value in report.items():
        print(name, value)
    print(json.dumps(report))
