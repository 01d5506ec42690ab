"""The Redis score cache's lookups: one ``MGET`` on a kept redis-py connection.

Why not ``Redis.mget``: per 64-key call, redis-py's client path costs more than
the round trip itself (docs/benchmarks.md, issue #29 session 11): every key
goes through its encoder (type checks per argument), the pool takes a lock and
records connection metrics twice, each call runs a retry wrapper, the write runs
under ``asyncio.wait_for`` (a task per call) and the read under another timeout.
Here the command is written by :func:`pack_mget` (one string join for keys of one
length, the usual case; the same bytes as redis-py's packer, which takes several
times as long through hiredis for 64 keys), on a redis-py ``Connection`` (its URL
parsing, handshake, TLS, Unix sockets and hiredis reply parser), kept idle between
calls.

Contract:

* :meth:`MgetConnections.mget` returns one ``bytes`` or ``None`` per key (at least
  one), in key order, or raises what a broken Redis raises (``RedisError``, ``OSError``).
* It has no timeout of its own: the caller bounds each call, connecting
  included (``RedisScoreCache._call``'s ``asyncio.timeout``).
* A connection whose call failed or was cancelled is closed and never reused,
  so a reply meant for an abandoned call is never read by a later one.
* An idle connection the server has closed (a restart) or that holds unread
  bytes is reconnected before use, as redis-py's pool does: a restart costs no
  failed lookup.
* At most ``max_connections`` are open at once; a call beyond that fails with
  ``MaxConnectionsError``, as redis-py's pool does.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError


def pack_mget(prefix: str, keys: Sequence[str]) -> bytes:
    """``MGET`` of ``prefix + key`` for each of ``keys`` (at least one) in Redis's protocol (RESP),
    keys UTF-8 encoded: byte for byte what redis-py sends for ``mget``."""
    if len(set(map(len, keys))) == 1:
        # One length for every key (cache_keys' are): every bulk string has the same header,
        # so the command is one join. Exact while every character is one byte.
        separator = f"\r\n${len(prefix) + len(keys[0])}\r\n{prefix}"
        command = f"*{len(keys) + 1}\r\n$4\r\nMGET{separator}{separator.join(keys)}\r\n"
        if command.isascii():
            return command.encode()
    encoded = [(prefix + key).encode() for key in keys]
    bulk = b"".join([b"$%d\r\n%s\r\n" % (len(key), key) for key in encoded])
    return b"*%d\r\n$4\r\nMGET\r\n%s" % (len(encoded) + 1, bulk)


class MgetConnections:
    def __init__(self, url: str, *, connect_timeout_s: float, max_connections: int) -> None:
        # socket_timeout=None: the caller's asyncio.timeout bounds the whole call; a second
        # timeout inside redis-py would only add a task (wait_for) and a timer per call.
        self._factory = ConnectionPool.from_url(
            url,
            socket_timeout=None,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._idle: list[AbstractConnection] = []
        self._open = 0  # connections made and not yet closed after a failure
        self._max = max_connections
        self._closed = False

    async def mget(self, prefix: str, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``prefix + key`` for each of ``keys``; see the module's contract."""
        command = pack_mget(prefix, keys)
        connection = self._take()
        try:
            await self._ready(connection)
            await connection.send_packed_command(command, check_health=False)
            reply = await connection.read_response(disable_decoding=True)
        except BaseException:
            self._open -= 1
            await connection.disconnect(nowait=True)  # never suspends: safe while cancelled
            raise
        if self._closed:  # closed while this call was in flight: nothing will take it again
            self._open -= 1
            await connection.disconnect()
        else:
            self._idle.append(connection)
        return reply

    def _take(self) -> AbstractConnection:
        if self._idle:
            return self._idle.pop()
        if self._open >= self._max:
            raise MaxConnectionsError("Too many connections")
        self._open += 1
        return self._factory.make_connection()

    @staticmethod
    async def _ready(connection: AbstractConnection) -> None:
        if connection.is_connected:
            try:
                if not await connection.can_read():  # no await inside for a healthy socket
                    return
            except (RedisConnectionError, OSError):
                pass  # the server closed it while it was idle
            await connection.disconnect(nowait=True)
        await connection.connect()

    async def close(self) -> None:
        """Close the idle connections now, and those in a call when their call ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        for connection in idle:
            await connection.disconnect()
