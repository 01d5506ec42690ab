"""Shared score cache on Redis, fail-open.

* One ``MGET`` per request for every (source, item) key, on a kept connection
  (rewardgate/store/redis_reads.py: redis-py's connection and hiredis, without
  the client's per-call work).
* Writes are pipelined ``SET key value EX ttl`` in a background task, off the
  request's critical path. Until a write lands, its entries stay in a small
  in-process buffer that reads consult first, so an entry is visible the
  moment ``set_many`` returns (no duplicate work in the write's flight time).
* Tight timeouts, no client retries; consecutive failures open a circuit
  breaker that skips Redis for ``reset_after_s`` and then probes it. While
  Redis is down or slow every lookup is a miss and writes are dropped; it
  recovers by itself, without a restart.
* Keys: ``<namespace>:v1:<hash>``; values: packed float64s (bit-exact).
* Never silent: an unreachable Redis at start-up is a WARNING
  (:meth:`RedisScoreCache.check_reachable`), and so is the breaker opening
  (with the last failure) and closing again; single failures stay at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from rewardgate.breaker import STATE_VALUES, CircuitBreaker
from rewardgate.observability.metrics import Metrics
from rewardgate.store.cache import ScoreCache, decode_scores, encode_scores
from rewardgate.store.redis_reads import MgetConnections

log = logging.getLogger(__name__)

# Everything a broken or slow Redis can raise at us.
_FAILURES = (RedisError, OSError, TimeoutError, ValueError)
_FAILED = object()
#: Value lengths whose unpacker is kept (one per head count in use; a handful in practice).
_KEPT_UNPACKERS = 64


class RedisScoreCache(ScoreCache):
    def __init__(
        self,
        url: str,
        *,
        ttl_s_by_kind: Mapping[str, float],
        metrics: Metrics,
        namespace: str = "rewardgate",
        timeout_s: float = 0.05,
        breaker_failures: int = 5,
        breaker_reset_s: float = 5.0,
        max_pending_writes: int = 10_000,
    ) -> None:
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            max_connections=64,
        )
        # Lookups (on every cached request's critical path) on connections of their own.
        self._reads = MgetConnections(url, connect_timeout_s=timeout_s, max_connections=64)
        self._ttl_s_by_kind = dict(ttl_s_by_kind)
        self._prefix = f"{namespace}:"
        self._timeout_s = timeout_s
        self._metrics = metrics
        self._where = redacted_url(url)
        self._last_failure: BaseException | None = None
        self._reported_down = False  # one WARNING per outage, not one per breaker probe
        self._breaker = CircuitBreaker(breaker_failures, breaker_reset_s, on_change=self._breaker_changed)
        self._pending: dict[str, list[float]] = {}
        self._max_pending = max_pending_writes
        self._writes: set[asyncio.Task] = set()
        self._unpackers: dict[int, Callable[[bytes], tuple[float, ...]]] = {}
        self._counters: dict[tuple[str, str], object] = {}  # metric children, by label values
        self._latency: dict[str, object] = {}

    @property
    def breaker_state(self) -> str:
        return self._breaker.state

    async def check_reachable(self, timeout_s: float = 1.0) -> bool:
        """PING Redis once (at start-up); a WARNING says so when it does not answer in ``timeout_s``.

        Start-up goes on either way: Redis is an accelerator, and the breaker
        keeps probing it.
        """
        try:
            async with asyncio.timeout(timeout_s):
                await self._redis.ping()
        except _FAILURES as exc:
            self._reported_down = True
            log.warning(
                "Redis score cache at %s is unreachable (%s); serving without it (every lookup a miss) "
                "until it answers",
                self._where,
                _reason(exc),
            )
            return False
        log.info("Redis score cache at %s reachable", self._where)
        return True

    def _breaker_changed(self, state: str) -> None:
        self._metrics.cache_breaker.set(STATE_VALUES[state])
        if state == "open" and not self._reported_down:
            self._reported_down = True
            log.warning(
                "Redis score cache at %s failing (last: %s); skipping it for %.0f s (lookups are misses)",
                self._where,
                _reason(self._last_failure),
                self._breaker.reset_after_s,
            )
        elif state == "closed" and self._reported_down:
            self._reported_down = False
            log.warning("Redis score cache at %s answers again", self._where)

    async def get_many(self, keys: Sequence[str]) -> list[list[float] | None]:
        if not keys:
            return []
        pending = self._pending
        everything = not pending  # (writes may start while we wait on Redis)
        if pending:  # writes in flight: their entries first, Redis for the rest
            found: list[list[float] | None] = [pending.get(key) for key in keys]
            missing = [index for index, value in enumerate(found) if value is None]
            if not missing:
                return found
            asked = [keys[i] for i in missing]
        else:  # the usual case: every key from Redis, no per-key buffer read
            found, missing, asked = [None] * len(keys), range(len(keys)), keys
        blobs = await self._call("get", self._reads.mget(self._prefix, asked))
        if blobs is _FAILED:
            return found
        values = self._decode_all(blobs)
        if everything:
            return values
        for index, value in zip(missing, values, strict=True):
            found[index] = value
        return found

    def _decode_all(self, blobs: list[bytes | None]) -> list[list[float] | None]:
        """:func:`decode_scores` of each blob (``None`` for a miss or a malformed value)."""
        if None not in blobs:
            sizes = set(map(len, blobs))
            size = sizes.pop()
            if not sizes and size and not size % 8:
                # Every value one length (one head count: a request's usual case): one unpack of
                # all of them, then one list per key.
                heads = size // 8
                flat = struct.unpack(f"<{len(blobs) * heads}d", b"".join(blobs))
                if heads == 1:
                    return [[value] for value in flat]
                return [list(flat[start : start + heads]) for start in range(0, len(flat), heads)]
        unpackers = self._unpackers
        values: list[list[float] | None] = []
        for blob in blobs:
            # Well-formed blobs are unpacked inline by a struct.Struct kept per length; a miss or a
            # malformed value goes through _decode.
            if blob and not len(blob) % 8:
                unpack = unpackers.get(len(blob)) or self._unpacker(len(blob))
                values.append(list(unpack(blob)))
            else:
                values.append(self._decode(blob))
        return values

    def _unpacker(self, size: int) -> Callable[[bytes], tuple[float, ...]]:
        unpack = struct.Struct(f"<{size // 8}d").unpack
        if len(self._unpackers) < _KEPT_UNPACKERS:  # bounded: junk of any length cannot grow it
            self._unpackers[size] = unpack
        return unpack

    def _decode(self, blob: bytes | None) -> list[float] | None:
        if blob is None:
            return None
        try:
            return decode_scores(blob)
        except ValueError:
            log.warning("ignoring a malformed score cache value of %d bytes", len(blob))
            return None

    async def set_many(self, entries: Mapping[str, list[float]], kind: str) -> None:
        if not entries:
            return
        if len(self._pending) + len(entries) > self._max_pending:
            self._count("set", "dropped").inc()
            return
        self._pending.update(entries)
        task = asyncio.create_task(self._write(dict(entries), self._ttl_s_by_kind[kind]))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, entries: dict[str, list[float]], ttl_s: float) -> None:
        try:
            await self._call("set", self._pipelined_set(entries, ttl_s))
        finally:
            for key in entries:
                self._pending.pop(key, None)

    async def _pipelined_set(self, entries: dict[str, list[float]], ttl_s: float) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, scores in entries.items():
                pipe.set(self._prefix + key, encode_scores(scores), ex=max(1, int(ttl_s)))
            await pipe.execute()

    async def _call(self, op: str, work):
        """Run one Redis round trip under the timeout and the breaker; ``_FAILED`` on failure."""
        if not self._breaker.allow():
            work.close()
            self._count(op, "skipped").inc()
            return _FAILED
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await work
        except asyncio.CancelledError:
            self._breaker.abandon_call()  # our caller went away; Redis said nothing
            raise
        except _FAILURES as exc:
            self._last_failure = exc
            self._breaker.record_failure()
            self._count(op, "error").inc()
            log.debug("redis %s failed: %r", op, exc)
            return _FAILED
        self._breaker.record_success()
        self._count(op, "ok").inc()
        latency = self._latency.get(op)
        if latency is None:
            latency = self._latency[op] = self._metrics.cache_seconds.labels(op)
        latency.observe(time.perf_counter() - started)
        return result

    def _count(self, op: str, outcome: str):
        """``cache_ops``' child for (op, outcome), looked up once: a per-call ``labels`` costs more."""
        counter = self._counters.get((op, outcome))
        if counter is None:
            counter = self._counters[op, outcome] = self._metrics.cache_ops.labels(op, outcome)
        return counter

    async def flush_writes(self) -> None:
        """Wait for background writes (tests and shutdown)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def close(self) -> None:
        await self.flush_writes()
        await self._reads.close()
        await self._redis.aclose()


def redacted_url(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown"
    if isinstance(exc, TimeoutError):
        return "no answer within the timeout"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
