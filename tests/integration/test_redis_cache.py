"""RedisScoreCache against a real, private redis-server."""

import asyncio

import pytest

from rewardgate.observability.metrics import Metrics
from rewardgate.store.redis_cache import RedisScoreCache

pytestmark = pytest.mark.slow

TTLS = {"model": 600, "rule": 60}


@pytest.fixture
async def cache(redis_server):
    metrics = Metrics()
    cache = RedisScoreCache(
        redis_server.url,
        ttl_s_by_kind=TTLS,
        metrics=metrics,
        namespace="t",
        timeout_s=0.05,
        breaker_failures=2,
        breaker_reset_s=0.3,
    )
    cache.metrics = metrics
    yield cache
    await cache.close()


def ops(cache, op, outcome):
    return cache.metrics.cache_ops.labels(op, outcome)._value.get()


async def test_round_trip_is_bit_exact_namespaced_and_expires_per_kind(cache, redis_server):
    scores = {"v1:a": [0.1 + 0.2, -1e-300], "v1:b": [2.0**60]}
    await cache.set_many(scores, "rule")
    await cache.flush_writes()
    assert await cache.get_many(["v1:a", "v1:b", "v1:missing"]) == [[0.1 + 0.2, -1e-300], [2.0**60], None]
    raw = redis_server.client()
    assert sorted(raw.keys("*")) == [b"t:v1:a", b"t:v1:b"]
    assert len(raw.get("t:v1:a")) == 16  # two float64s
    assert 0 < raw.ttl("t:v1:a") <= TTLS["rule"]
    await cache.set_many({"v1:m": [1.0]}, "model")
    await cache.flush_writes()
    assert TTLS["rule"] < raw.ttl("t:v1:m") <= TTLS["model"]


async def test_entries_are_visible_as_soon_as_set_many_returns(cache):
    await cache.set_many({"v1:now": [4.0]}, "model")  # the write is still in flight
    assert await cache.get_many(["v1:now"]) == [[4.0]]
    await cache.flush_writes()
    assert await cache.get_many(["v1:now"]) == [[4.0]]


async def test_redis_down_means_misses_then_the_breaker_skips_it(cache, redis_server):
    await cache.set_many({"v1:x": [1.0]}, "rule")
    await cache.flush_writes()
    redis_server.stop()
    assert await cache.get_many(["v1:x"]) == [None]
    assert await cache.get_many(["v1:x"]) == [None]
    assert cache.breaker_state == "open"
    await cache.get_many(["v1:x"])
    assert ops(cache, "get", "skipped") == 1
    await cache.set_many({"v1:y": [2.0]}, "rule")  # dropped quietly while open
    await cache.flush_writes()
    assert await cache.get_many(["v1:y"]) == [None]


async def test_cache_recovers_by_itself_after_redis_restarts(cache, redis_server):
    redis_server.stop()
    for _ in range(2):
        await cache.get_many(["v1:k"])
    assert cache.breaker_state == "open"
    redis_server.start()
    await asyncio.sleep(0.35)  # the breaker's cool-down; the next call is the probe
    await cache.set_many({"v1:k": [3.0]}, "rule")
    await cache.flush_writes()
    assert cache.breaker_state == "closed"
    assert await cache.get_many(["v1:k"]) == [[3.0]]


async def test_a_slow_redis_counts_as_a_miss_within_the_timeout(cache, redis_server):
    await cache.set_many({"v1:s": [5.0]}, "rule")
    await cache.flush_writes()
    blocking = redis_server.client()
    sleeper = asyncio.create_task(asyncio.to_thread(blocking.execute_command, "DEBUG", "SLEEP", "0.5"))
    await asyncio.sleep(0.1)
    assert await cache.get_many(["v1:s"]) == [None]
    assert ops(cache, "get", "error") == 1
    await sleeper


async def test_malformed_values_are_misses(cache, redis_server):
    redis_server.client().set("t:v1:bad", b"abc")
    assert await cache.get_many(["v1:bad"]) == [None]


async def test_a_cancelled_lookup_does_not_wedge_the_breaker(cache, redis_server):
    redis_server.stop()
    for _ in range(2):
        await cache.get_many(["v1:c"])
    redis_server.start()
    await asyncio.sleep(0.35)
    blocking = redis_server.client()
    sleeper = asyncio.create_task(asyncio.to_thread(blocking.execute_command, "DEBUG", "SLEEP", "0.3"))
    await asyncio.sleep(0.05)
    probe = asyncio.create_task(cache.get_many(["v1:c"]))  # the half-open probe, stuck behind SLEEP
    await asyncio.sleep(0.01)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    await sleeper
    await cache.set_many({"v1:c": [1.0]}, "rule")
    await cache.flush_writes()
    assert cache.breaker_state == "closed"


async def test_writes_beyond_the_pending_limit_are_dropped_and_counted(redis_server):
    metrics = Metrics()
    cache = RedisScoreCache(redis_server.url, ttl_s_by_kind=TTLS, metrics=metrics, max_pending_writes=2)
    try:
        await cache.set_many({"v1:a": [1.0], "v1:b": [2.0]}, "rule")  # fills the buffer
        await cache.set_many({"v1:c": [3.0]}, "rule")  # no room: dropped, not queued
        assert metrics.cache_ops.labels("set", "dropped")._value.get() == 1
        await cache.flush_writes()
        assert await cache.get_many(["v1:a", "v1:b", "v1:c"]) == [[1.0], [2.0], None]
    finally:
        await cache.close()
