"""The Redis cache's lookup alone: one 64-key lookup, three ways, side by side in one process.

* ``floor``: the least a Python caller can do on the same event loop (uvloop): a prebuilt
  ``MGET`` written to one asyncio stream, the reply read and parsed by hiredis; nothing decoded;
* ``redis_py_mget``: redis-py's ``Redis.mget`` on the client the cache keeps for its writes
  (how lookups went before issue #29's session 11), replies not decoded;
* ``get_many``: ``RedisScoreCache.get_many`` as the service calls it (kept connection, timeout,
  breaker, metrics, the 64 values decoded to lists of floats); ``get_many_not_ok`` counts its
  lookups that failed or were skipped, ``redis_py_mget_failed`` the other side's failures (a
  figure with any is not a lookup's cost).

Every key holds one float64 (``exact``'s one head). Each figure is the least mean over
``--batches`` batches of ``--calls`` calls, the three taking turns, so machine noise (which
only adds time) mostly drops out. The last line is JSON.

    python bench/redis_lookup.py --redis redis://127.0.0.1:6379/0 [--batches 20] [--calls 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
from pathlib import Path

import hiredis
import uvloop
from redis.exceptions import RedisError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rewardgate.observability.metrics import Metrics
from rewardgate.store.redis_cache import RedisScoreCache
from rewardgate.store.redis_reads import pack_mget

NAMESPACE = "bench-redis-lookup"
KEYS = [f"v1:{i:032x}" for i in range(64)]


async def measure(url: str, batches: int, calls: int) -> dict[str, float]:
    metrics = Metrics()
    cache = RedisScoreCache(url, ttl_s_by_kind={"rule": 600}, metrics=metrics, namespace=NAMESPACE)
    client = cache._redis  # the client the cache keeps for its writes
    full = [f"{NAMESPACE}:{key}" for key in KEYS]
    await client.mset({key: struct.pack("<d", i / 7) for i, key in enumerate(full)})
    where = client.connection_pool.connection_kwargs
    reader, writer = await asyncio.open_connection(where["host"], where["port"])
    command, parser = pack_mget(f"{NAMESPACE}:", KEYS), hiredis.Reader()

    async def floor():
        writer.write(command)
        while (reply := parser.gets()) is False:
            parser.feed(await reader.read(65536))
        return reply

    failed = 0

    async def redis_py_mget():
        nonlocal failed
        try:
            return await client.mget(full)
        except RedisError:  # past the cache's 50 ms socket timeout: counted, as get_many's are
            failed += 1

    sides = {
        "floor": floor,
        "redis_py_mget": redis_py_mget,
        "get_many": lambda: cache.get_many(KEYS),
    }
    assert await cache.get_many(KEYS) == [[i / 7] for i in range(len(KEYS))]
    best = dict.fromkeys(sides, float("inf"))
    for batch in range(batches + 1):  # the first batch warms up
        for name, call in sides.items():
            started = time.perf_counter()
            for _ in range(calls):
                await call()
            if batch:
                best[name] = min(best[name], (time.perf_counter() - started) / calls * 1e6)
    writer.close()
    await client.delete(*full)
    await cache.close()
    figures: dict[str, float] = {f"{name}_us": round(value, 1) for name, value in best.items()}
    # A lookup past the cache's 50 ms budget (an overloaded machine) is a fast miss: say so.
    figures["redis_py_mget_failed"] = failed
    figures["get_many_not_ok"] = sum(
        metrics.cache_ops.labels("get", outcome)._value.get() for outcome in ("error", "skipped")
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    figures = uvloop.run(measure(args.redis, args.batches, args.calls))
    for name, value in figures.items():
        print(f"{name:20s} {value:8.1f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
