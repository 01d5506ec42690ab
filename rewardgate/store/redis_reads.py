"""The Redis score cache's lookups: one ``MGET`` on a kept redis-py connection.

Why not ``Redis.mget``: per 64-key call, redis-py's client path costs more than
the round trip itself (docs/benchmarks.md, issue #29 session 11): every key
goes through its encoder (type checks per argument), the pool takes a lock and
records connection metrics twice, each call runs a retry wrapper, the write runs
under ``asyncio.wait_for`` (a task per call) and the read under another timeout.
Here the command is packed in one call to hiredis (the C encoder redis-py itself
uses), on a redis-py ``Connection`` (its URL parsing, handshake, TLS, Unix
sockets and hiredis reply parser), kept idle between calls.

Contract:

* :meth:`MgetConnections.mget` returns one ``bytes`` or ``None`` per key, in key
  order, or raises what a broken Redis raises (``RedisError``, ``OSError``).
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

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

try:
    from hiredis import pack_command
except ImportError:  # redis[hiredis] brings it; without it, redis-py's pure-Python packer
    pack_command = None


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

    async def mget(self, keys: list[bytes]) -> list[bytes | None]:
        """``MGET keys`` (full Redis keys, encoded); see the module's contract."""
        connection = self._take()
        try:
            await self._ready(connection)
            await connection.send_packed_command(self._pack(connection, keys), check_health=False)
            reply = await connection.read_response(disable_decoding=True)
        except BaseException:
            self._open -= 1
            await connection.disconnect(nowait=True)  # never suspends: safe while cancelled
            raise
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

    @staticmethod
    def _pack(connection: AbstractConnection, keys: list[bytes]) -> bytes | list[bytes]:
        if pack_command is None:
            return connection.pack_command(b"MGET", *keys)
        return pack_command((b"MGET", *keys))

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        for connection in idle:
            await connection.disconnect()
