"""The Redis cache's lookup path (rewardgate/store/redis_reads.py) against a real, private redis-server:
keys of any shape, kept connections, and what happens to a connection after a failure."""

import asyncio
import struct

import pytest
import redis
from redis.exceptions import MaxConnectionsError

from rewardgate.observability.metrics import Metrics
from rewardgate.store import redis_cache
from rewardgate.store.redis_cache import RedisScoreCache
from rewardgate.store.redis_reads import MgetConnections

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
        breaker_failures=5,
    )
    cache.metrics = metrics
    yield cache
    await cache.close()


def errors(cache) -> float:
    return cache.metrics.cache_ops.labels("get", "error")._value.get()


async def blocked(redis_server, seconds: float) -> asyncio.Task:
    """Redis blocked for ``seconds`` (DEBUG SLEEP from another client, in a thread); returns once
    it is (a PING no longer answers), so a test's next call surely waits behind it."""
    sleeper = asyncio.create_task(
        asyncio.to_thread(redis_server.client().execute_command, "DEBUG", "SLEEP", seconds)
    )
    probe = redis.Redis.from_url(redis_server.url, socket_timeout=0.01)
    while True:
        try:
            await asyncio.to_thread(probe.ping)
        except redis.TimeoutError:
            probe.close()
            return sleeper
        await asyncio.sleep(0.001)


def our_connections(redis_server) -> int:
    """Connections to the server other than the asking client's own."""
    return len(redis_server.client().client_list()) - 1


async def test_keys_of_any_length_and_text_round_trip(redis_server):
    reads = MgetConnections(redis_server.url, connect_timeout_s=1, max_connections=4)
    raw = redis_server.client()
    uniform = [f"v1:{i:032x}" for i in range(64)]
    mixed = ["v1:a", "v1:caf\u00e9", "v1:\u96ea", "v1:" + "x" * 300]
    for number, key in enumerate([uniform[3], *mixed]):
        raw.set("t\u00e9:" + key, bytes([number]) * 8)
    try:
        reply = await reads.mget("t\u00e9:", uniform)
        assert reply[3] == b"\x00" * 8 and reply.count(None) == 63
        assert await reads.mget("t\u00e9:", [*mixed, "v1:absent"]) == [
            bytes([n]) * 8 for n in (1, 2, 3, 4)
        ] + [None]
    finally:
        await reads.close()


async def test_values_of_every_length_decode_and_junk_is_a_miss(cache, redis_server, monkeypatch):
    monkeypatch.setattr(redis_cache, "_KEPT_UNPACKERS", 2)  # lengths past the kept ones still decode
    raw = redis_server.client()
    values = {f"v1:{n}": [float(i) / 3 for i in range(n)] for n in (1, 2, 3, 4)}
    for key, scores in values.items():
        raw.set(f"t:{key}", struct.pack(f"<{len(scores)}d", *scores))
    raw.set("t:v1:junk", b"\x00" * 9)
    keys = [*values, "v1:junk", "v1:absent"]
    for _ in range(2):  # the second time from the kept unpackers
        assert await cache.get_many(keys) == [*values.values(), None, None]
    assert len(cache._unpackers) == 2


async def test_buffered_and_stored_entries_mix_in_key_order(cache, redis_server):
    redis_server.client().set("t:v1:stored", struct.pack("<d", 1.5))
    await cache.set_many({"v1:buffered": [2.5]}, "rule")  # still in flight: read from the buffer
    assert await cache.get_many(["v1:stored", "v1:buffered", "v1:absent"]) == [[1.5], [2.5], None]


async def test_lookups_keep_their_connection(cache, redis_server):
    for _ in range(5):
        await cache.get_many(["v1:a"])
    await asyncio.gather(*(cache.get_many(["v1:a"]) for _ in range(3)))
    assert our_connections(redis_server) == 3  # three at once needed three; none made since
    await cache.close()
    assert our_connections(redis_server) == 0


async def test_a_timed_out_lookup_never_hands_its_reply_to_the_next(cache, redis_server):
    raw = redis_server.client()
    raw.set("t:v1:first", struct.pack("<d", 1.0))
    raw.set("t:v1:second", struct.pack("<d", 2.0))
    assert await cache.get_many(["v1:first"]) == [[1.0]]  # a kept connection now
    sleeper = await blocked(redis_server, 0.3)
    assert await cache.get_many(["v1:first"]) == [None]  # timed out; its reply comes later
    await sleeper
    await asyncio.sleep(0.05)  # the late reply would have arrived on a kept connection by now
    assert await cache.get_many(["v1:second"]) == [[2.0]]
    assert errors(cache) == 1


async def test_a_cancelled_lookup_closes_its_connection(redis_server):
    cache = RedisScoreCache(
        redis_server.url, ttl_s_by_kind=TTLS, metrics=Metrics(), namespace="t", timeout_s=5
    )
    redis_server.client().set("t:v1:k", struct.pack("<d", 7.0))
    await cache.get_many(["v1:k"])
    sleeper = await blocked(redis_server, 0.3)
    lookup = asyncio.create_task(cache.get_many(["v1:other"]))
    await asyncio.sleep(0.01)
    assert not lookup.done()  # waiting behind SLEEP (the cache's timeout here: 5 s)
    lookup.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lookup
    await sleeper
    assert cache._reads._idle == [] and cache._reads._open == 0
    assert await cache.get_many(["v1:k"]) == [[7.0]]
    await cache.close()


async def test_a_redis_restart_costs_no_failed_lookup(cache, redis_server):
    await asyncio.gather(*(cache.get_many(["v1:r"]) for _ in range(3)))  # three idle connections
    redis_server.stop()
    redis_server.start()  # same port; every idle connection is now closed by the old server
    redis_server.client().set("t:v1:r", struct.pack("<d", 3.0))
    await asyncio.sleep(0.05)  # the loop sees the old server's close
    for _ in range(4):
        assert await cache.get_many(["v1:r"]) == [[3.0]]
    assert errors(cache) == 0 and cache.breaker_state == "closed"


async def test_lookups_beyond_the_connection_limit_fail_and_leave_the_count_right(redis_server):
    reads = MgetConnections(redis_server.url, connect_timeout_s=1, max_connections=1)
    blocking = await blocked(redis_server, 0.3)
    first = asyncio.create_task(reads.mget("", ["a"]))  # holds the only connection behind SLEEP
    await asyncio.sleep(0.01)
    assert not first.done()
    with pytest.raises(MaxConnectionsError):
        await reads.mget("", ["b"])
    assert await first == [None]
    await blocking
    assert await reads.mget("", ["b"]) == [None]
    assert reads._open == 1 and len(reads._idle) == 1
    await reads.close()
    assert reads._open == 0


async def test_an_unreachable_redis_is_a_failure_not_a_hang(redis_server):
    redis_server.stop()
    reads = MgetConnections(redis_server.url, connect_timeout_s=0.5, max_connections=2)
    with pytest.raises(Exception) as caught:
        async with asyncio.timeout(2):
            await reads.mget("", ["a"])
    assert isinstance(caught.value, redis_cache._FAILURES)
    assert reads._open == 0


@pytest.mark.parametrize("heads", [1, 3])
async def test_values_of_one_length_decode_in_one_pass_bit_exact(cache, redis_server, heads):
    raw = redis_server.client()
    values = {
        f"v1:{i:032x}": [(i + head) / 7 * 1e-300 if i % 2 else -(i + head) / 3 for head in range(heads)]
        for i in range(64)
    }
    for key, scores in values.items():
        raw.set(f"t:{key}", struct.pack(f"<{heads}d", *scores))
    assert await cache.get_many(list(values)) == list(values.values())
    raw.set("t:v1:absent-sized", b"\x00" * 9)  # one length, but not float64s: misses
    assert await cache.get_many(["v1:absent-sized", "v1:absent-sized"]) == [None, None]
    assert await cache.get_many([]) == []


async def test_a_write_landing_during_a_lookup_leaves_its_answer_whole(cache, redis_server, monkeypatch):
    redis_server.client().set("t:v1:stored", struct.pack("<d", 1.0))
    await cache.set_many({"v1:buffered": [2.0]}, "rule")  # buffered until its write lands
    mget = cache._reads.mget

    async def mget_while_the_write_lands(prefix, keys):
        cache._pending.clear()  # what the write's end does, while the lookup waits on Redis
        return await mget(prefix, keys)

    monkeypatch.setattr(cache._reads, "mget", mget_while_the_write_lands)
    assert await cache.get_many(["v1:buffered", "v1:stored"]) == [[2.0], [1.0]]


async def test_a_connection_in_a_call_at_close_is_closed_when_the_call_ends(redis_server):
    reads = MgetConnections(redis_server.url, connect_timeout_s=1, max_connections=2)
    await reads.mget("", ["a"])  # one idle connection
    blocking = await blocked(redis_server, 0.3)
    in_flight = asyncio.create_task(reads.mget("", ["b"]))  # takes the idle one, waits behind SLEEP
    await asyncio.sleep(0.01)
    assert not in_flight.done()
    await reads.close()
    assert await in_flight == [None]
    await blocking
    assert reads._open == 0 and reads._idle == []
    assert our_connections(redis_server) == 0
