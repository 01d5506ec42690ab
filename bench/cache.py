"""Score cache: what a fully cached request costs, and why one MGET.

Two measurements in one run, against a private redis-server on a free port:

1. Through the service (HTTP, Redis-backed cache, rule-only ``math``
   pipeline): p50/p99 latency of a 64-item request, fully cached (the same
   64 items every time, all hits) vs uncached (``cache: false``: every item
   verified again in the math-verify worker pool).
2. Directly on Redis: one MGET of 64 keys vs 64 sequential GETs, the access
   pattern of a cache without batched lookups; and the same MGET with
   redis-py's pure-Python reply parser, against the hiredis (C) parser that
   the service's client uses (``redis[hiredis]``).

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from redis._parsers import _AsyncRESP2Parser
from redis.asyncio import Redis
from redis.utils import HIREDIS_AVAILABLE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.redis_server import RedisServer
from tests.support.server import ServiceProcess


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 3),
        "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 3),
    }


def items(n: int) -> list[dict]:
    return [
        {
            "id": str(i),
            "response": f"The answer is \\boxed{{\\frac{{{i}}}{{{i + 1}}}}}",
            "reference": f"{i}/{i + 1}",
        }
        for i in range(n)
    ]


def time_requests(url: str, body: dict, repeats: int) -> list[float]:
    samples = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.post("/v1/score", json=body)
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
    return samples


def service_figures(redis_url: str, repeats: int, workdir: Path) -> dict:
    config = workdir / "pipelines.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "rules": {"math": {"type": "math_verify"}},
                "pipelines": {"math": {"components": {"correct": {"rule": "math"}}}},
            }
        )
    )
    service = ServiceProcess(config, env={"REWARDGATE_REDIS_URL": redis_url}, log_path=workdir / "log")
    try:
        service.wait()
        batch = items(64)
        cached_body = {"pipeline": "math", "items": batch}
        uncached_body = {"pipeline": "math", "items": batch, "options": {"cache": False}}
        time_requests(service.url, cached_body, 3)  # warm the pool, fill the cache
        uncached = time_requests(service.url, uncached_body, repeats)
        cached = time_requests(service.url, cached_body, repeats)
        probe = httpx.post(service.url + "/v1/score", json=cached_body, timeout=60).json()
        assert probe["usage"]["cache_hits"] == 64, "the cached variant was not fully cached"
    finally:
        service.stop()
    return {"uncached": percentiles(uncached), "cached": percentiles(cached)}


async def redis_figures(redis_url: str, repeats: int) -> dict:
    if not HIREDIS_AVAILABLE:
        raise RuntimeError("hiredis is not installed (the service depends on redis[hiredis])")
    redis = Redis.from_url(redis_url)  # picks the hiredis parser, as the service's client does
    pure_python = Redis.from_url(redis_url, parser_class=_AsyncRESP2Parser)
    keys = [f"bench:v1:{i:032x}" for i in range(64)]
    await redis.mset({key: b"\x00" * 8 for key in keys})
    mget, mget_python, gets = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        await redis.mget(keys)
        mget.append(time.perf_counter() - started)
        started = time.perf_counter()
        await pure_python.mget(keys)
        mget_python.append(time.perf_counter() - started)
        started = time.perf_counter()
        for key in keys:
            await redis.get(key)
        gets.append(time.perf_counter() - started)
    await redis.aclose()
    await pure_python.aclose()
    return {
        "mget_64": percentiles(mget),
        "mget_64_pure_python_parser": percentiles(mget_python),
        "get_x64": percentiles(gets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60, help="requests per service variant")
    parser.add_argument("--redis-rounds", type=int, default=500, help="rounds per Redis variant")
    args = parser.parse_args()
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            service = service_figures(redis.url, args.requests, Path(tmp))
        direct = asyncio.run(redis_figures(redis.url, args.redis_rounds))
    finally:
        redis.stop()
    figures = {
        "bench": "cache",
        "request_64_items": service,
        "cached_vs_uncached_p50_speedup": round(
            service["uncached"]["p50_ms"] / service["cached"]["p50_ms"], 2
        ),
        "redis": direct,
        "mget_vs_gets_p50_speedup": round(direct["get_x64"]["p50_ms"] / direct["mget_64"]["p50_ms"], 2),
        "hiredis_vs_python_parser_mget_p50_speedup": round(
            direct["mget_64_pure_python_parser"]["p50_ms"] / direct["mget_64"]["p50_ms"], 2
        ),
    }
    print("64-item request, rule-only pipeline (math_verify), Redis-backed cache")
    print(f"{'variant':<22} {'p50 ms':>9} {'p99 ms':>9}")
    for name in ("uncached", "cached"):
        print(f"{name:<22} {service[name]['p50_ms']:>9.2f} {service[name]['p99_ms']:>9.2f}")
    for label, name in (
        ("MGET 64 keys", "mget_64"),
        ("MGET, Python parser", "mget_64_pure_python_parser"),
        ("64 sequential GETs", "get_x64"),
    ):
        print(f"{label:<22} {direct[name]['p50_ms']:>9.3f} {direct[name]['p99_ms']:>9.3f}")
    print(
        f"cached/uncached p50 speed-up {figures['cached_vs_uncached_p50_speedup']}x, "
        f"MGET/GETs p50 speed-up {figures['mget_vs_gets_p50_speedup']}x, "
        f"hiredis/Python parser p50 speed-up {figures['hiredis_vs_python_parser_mget_p50_speedup']}x"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
