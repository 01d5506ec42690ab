"""Blocking HTTP transport for the sync client's single-request calls.

A trainer that sends one sample per request from plain (non-async) code waits
for the whole client round trip; an event loop turn, a task and aiohttp's
request machinery cost that caller more than the request itself, and so does
``http.client``, whose header parsing (through the ``email`` package) was
about half of the client's own time per call (bench/client_http.py,
docs/benchmarks.md). This transport writes each request in one ``sendall``
on a keep-alive socket of the calling thread and reads the reply with
``httptools``, the C HTTP/1.1 parser uvicorn uses (chunked and
content-length bodies alike).

Its contract matches :class:`rewardgate_client._http.HttpTransport`'s: the same
request body, the same typed errors (the reply check is shared), the deadline
bounding the whole exchange. A keep-alive connection the server has closed
while idle is noticed before it is reused (it reads as ready with no request
outstanding), so an idle caller does not pay a failed attempt and a retry; a
connection that fails or ends mid-reply raises :class:`ConnectionFailed`
(retryable), as over aiohttp, and is never reused, nor is one that carried
bytes past the reply asked for (out of step). One transport belongs to one
thread; a forked child opens its own connection.

What a call costs is what a one-sample caller waits for, so the per-call work
is kept to what each exchange needs (bench/instructions.py --client,
docs/benchmarks.md): a connection keeps its parser, its reply record and its
readiness poller; the parser has no per-header callback (the one header read,
``Retry-After``, matters only on a refusal, whose bytes are parsed again for
it); a fork is noticed by an ``os.register_at_fork`` hook, not a ``getpid``
per call; a plain (non-TLS) socket is non-blocking and waits for the reply on
that poller, so a call sets no socket timeout (see :class:`_Connection`).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import struct
import sys
import time
import weakref
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson

from rewardgate_client._http import decode_reply, encode_body, single_score_head
from rewardgate_client.errors import ConnectionFailed, DeadlineExceeded
from rewardgate_client.types import Result, ScoreReply, results_from_reply

#: Bytes one read can take. Reads go into the connection's own buffer: ``recv`` of this size
#: would allocate it per read, above glibc's mmap threshold (128 KiB), so that each call paid an
#: mmap, an mremap and a munmap (about 9 us of a ~300 us exchange, cProfile of 20k calls).
_READ_SIZE = 256 * 1024

#: Whether a plain socket's reads can be bounded by the kernel (``SO_RCVTIMEO``, a ``timeval``
#: of two longs) and a send made non-blocking by a flag: Linux. Elsewhere reads wait on a poller.
_KERNEL_BOUNDS = sys.platform == "linux" and hasattr(socket, "MSG_DONTWAIT")

#: Seconds a kernel read bound may outlast its value: Linux keeps it in jiffies, rounded up
#: (10 ms at HZ=100, the coarsest). A bound is set this much short of what is left, and
#: re-set once less than that is left beyond it.
_KERNEL_SLACK_S = 0.02

#: With less than this left of the deadline, a read waits on the poller (to the millisecond).
_NEAR_DEADLINE_S = 0.1

#: Every live transport, so that a forked child drops the connections it shares with its parent.
_TRANSPORTS: weakref.WeakSet[BlockingHttpTransport] = weakref.WeakSet()


class BlockingHttpTransport:
    """One keep-alive connection to ``base_url``, used by one thread at a time."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        fields = {
            "host": parts.netloc.rpartition("@")[2],
            "content-type": "application/json",
            **(headers or {}),
        }
        self._fields = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
        self._heads: dict[str, bytes] = {}  # path -> the request head up to the content length
        self._connection: _Connection | None = None
        _TRANSPORTS.add(self)

    #: A one-item body written up to its deadline (here: the client imports no transport's module)
    single_score_head = staticmethod(single_score_head)

    @property
    def _socket(self) -> socket.socket | None:
        """The open connection's socket, or None."""
        return self._connection.sock if self._connection is not None else None

    def score(self, body: dict[str, Any], timeout_s: float) -> ScoreReply:
        return ScoreReply.from_dict(self._post("/v1/score", encode_body(body), timeout_s))

    def score_results(self, body: dict[str, Any], timeout_s: float) -> list[Result]:
        """:meth:`score`'s results alone (what the sync client returns), built from the
        freshly decoded reply without copying it."""
        return results_from_reply(self._post("/v1/score", encode_body(body), timeout_s))

    def score_single(self, head: bytes, left_ms: int, timeout_s: float) -> list[Result]:
        """:meth:`score_results` for the one-item body ``head`` (``single_score_head``) closed
        with the server deadline ``left_ms``: the request is written by one format, body and
        all (a bytes format costs about 1.5k instructions)."""
        http_head = self._heads.get("/v1/score") or self._head("/v1/score")
        length = len(head) + len(str(left_ms)) + 2
        return results_from_reply(
            self._send(b"%s%d\r\n\r\n%s%d}}" % (http_head, length, head, left_ms), timeout_s)
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.sock.close()
            self._connection = None

    def _forget_after_fork(self) -> None:
        """In a forked child: the connection is the parent's too. Its descriptor is closed
        here (the parent's stays open) and the child's next call opens its own."""
        self.close()

    def _post(self, path: str, content: bytes, timeout_s: float) -> dict[str, Any]:
        head = self._heads.get(path) or self._head(path)
        return self._send(b"%s%d\r\n\r\n%s" % (head, len(content), content), timeout_s)

    def _send(self, request: bytes, timeout_s: float) -> dict[str, Any]:
        """The decoded JSON reply to ``request`` (a whole HTTP request) within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        try:
            connection = self._connection
            if connection is None or connection.dropped():
                connection = self._connect(timeout_s)
            reply = connection.exchange(request, deadline)
        except TimeoutError as exc:
            self.close()
            raise DeadlineExceeded(f"no answer within {timeout_s:.3g} s") from exc
        except (OSError, httptools.HttpParserError) as exc:
            self.close()
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
        if not reply.keep_alive or reply.surplus:
            self.close()
        body = reply.body[0] if len(reply.body) == 1 else b"".join(reply.body)
        if reply.status == 200:
            return orjson.loads(body)  # decode_reply's for a 200, one call less
        return decode_reply(reply.status, _retry_after(b"".join(reply.received)), body)

    def _head(self, path: str) -> bytes:
        head = f"POST {self._prefix}{path} HTTP/1.1\r\n{self._fields}content-length: ".encode("latin-1")
        self._heads[path] = head
        return head

    def _connect(self, timeout_s: float) -> _Connection:
        self.close()
        sock = socket.create_connection((self._host, self._port), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self._host)
        self._connection = _Connection(sock, tls=self._tls is not None)
        return self._connection


class _Connection:
    """A socket with what each exchange on it reuses: the reply record, its parser (which
    resets itself after each whole message), a poller for the idle check and a read buffer.

    A plain socket on Linux is blocking, and the kernel bounds each read (``SO_RCVTIMEO``,
    set short of what is left of the deadline and re-set only when it no longer fits, so a
    steady caller sets it once): a read sleeps in ``recv`` itself, one system call per read
    as for a blocking caller, and the send goes at once (``MSG_DONTWAIT``). Elsewhere a plain
    socket (where ``select.poll`` exists) is non-blocking and waits for the reply on the kept
    poller. Either way no ``settimeout`` per call, no poll before the send (Python polls
    before every operation on a socket with a timeout). A TLS socket keeps Python's
    timeouts: a readable TLS socket need not hold a whole record, so a wait on the
    descriptor is not a wait for data."""

    __slots__ = ("buffer", "kernel_bounds", "parser", "poll", "read_bound", "reply", "sock", "waits")

    def __init__(self, sock: socket.socket, *, tls: bool) -> None:
        self.sock = sock
        self.buffer = memoryview(bytearray(_READ_SIZE))
        self.reply = _Reply()
        self.parser = self.reply.parser = httptools.HttpResponseParser(self.reply)
        self.poll = None
        if hasattr(select, "poll"):  # no limit on descriptor numbers, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            self.poll = poller.poll
        self.waits = self.poll is not None and not tls
        self.kernel_bounds = self.waits and _KERNEL_BOUNDS and _takes_read_bounds(sock)
        self.read_bound = 0.0  # the kernel's bound on a read, in seconds (0: none set)
        if self.kernel_bounds:
            sock.settimeout(None)
        elif self.waits:
            sock.setblocking(False)

    def exchange(self, request: bytes, deadline: float) -> _Reply:
        """Send ``request`` and read its whole reply by ``deadline`` (``time.monotonic``).

        Raises TimeoutError past the deadline, OSError or HttpParserError when the connection
        fails: the caller closes it then, and its parser with it."""
        self.reply.start()
        if self.kernel_bounds:
            return self._exchange_bounded(request, deadline)
        if not self.waits:
            return self._exchange_timed(request, deadline)
        sock, buffer, poll = self.sock, self.buffer, self.poll
        if _send_request(sock, request, deadline, 0):
            sock.setblocking(False)
        while True:
            left_ms = (deadline - time.monotonic()) * 1000
            if left_ms <= 0 or not poll(left_ms):
                raise TimeoutError("no reply by the deadline")
            try:
                size = sock.recv_into(buffer)
            except BlockingIOError:  # woken with nothing to read: wait again
                continue
            if self._fed(size):
                return self.reply

    def _exchange_bounded(self, request: bytes, deadline: float) -> _Reply:
        sock, buffer = self.sock, self.buffer
        if _send_request(sock, request, deadline, socket.MSG_DONTWAIT):
            sock.settimeout(None)
        while True:
            left = deadline - time.monotonic()
            if not left * 0.25 <= self.read_bound <= left - _KERNEL_SLACK_S:
                if left < _NEAR_DEADLINE_S:  # the last stretch: a wait on the poller, to the ms
                    if left <= 0 or not self.poll(left * 1000):
                        raise TimeoutError("no reply by the deadline")
                else:
                    self._bound_reads(left - 2 * _KERNEL_SLACK_S)
            try:
                size = sock.recv_into(buffer)
            except BlockingIOError:  # the kernel's bound passed: the deadline decides
                continue
            if self._fed(size):
                return self.reply

    def _bound_reads(self, seconds: float) -> None:
        whole = int(seconds)
        timeval = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        self.read_bound = seconds

    def _exchange_timed(self, request: bytes, deadline: float) -> _Reply:
        sock, buffer = self.sock, self.buffer
        # Each blocking step (the send, every read) may last only what is left of the
        # deadline, which a connect or a TLS handshake may have used already. A send finds
        # the buffer empty (the last exchange is over) and returns at once, so the read
        # after it keeps the send's timeout unless the send had to wait.
        sent_from = time.monotonic()
        sock.settimeout(max(deadline - sent_from, 0.001))
        sock.sendall(request)
        if time.monotonic() - sent_from > 0.001:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
        while not self._fed(sock.recv_into(buffer)):
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
        return self.reply

    def _fed(self, size: int) -> bool:
        """Parse the ``size`` bytes just read into the buffer; True once the reply is whole."""
        if not size:
            raise ConnectionResetError("the server closed the connection before a whole reply")
        data = self.buffer[:size]
        self.parser.feed_data(data)  # the reply's body comes out of it as bytes of its own
        reply = self.reply
        if reply.status != 200:  # a refusal, or its head still to come: kept for Retry-After
            reply.received.append(bytes(data))
        return reply.complete

    def dropped(self) -> bool:
        """True when the idle socket is readable: the server closed it (or sent something
        unasked), so it must not carry the next request."""
        try:
            if self.poll is not None:
                return bool(self.poll(0))
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True


def _takes_read_bounds(sock: socket.socket) -> bool:
    """Whether the kernel takes a read bound as two longs (none: 0, 0); a platform whose
    ``timeval`` is wider (a 32-bit one with a 64-bit ``time_t``) waits on the poller."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", 0, 0))
    except OSError:
        return False
    return True


class _Reply:
    """httptools callbacks: what a reply carries that the client reads. Status and
    keep-alive are read when the headers are complete (the parser resets for the next
    message once this one is). A message beginning after the reply is complete is bytes
    the client never asked for: it is ignored and marks the connection out of step."""

    __slots__ = ("body", "complete", "keep_alive", "parser", "received", "status", "surplus")

    def __init__(self) -> None:
        self.parser: Any = None
        self.surplus = False
        self.start()

    def start(self) -> None:
        """Ready for the next exchange's reply."""
        self.status = 0
        self.keep_alive = False
        self.body: list[bytes] = []
        self.received: list[bytes] = []
        self.complete = False

    def on_message_begin(self) -> None:
        if self.complete:
            self.surplus = True

    def on_headers_complete(self) -> None:
        if not self.complete:
            self.status = self.parser.get_status_code()
            self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _RetryAfter:
    """httptools callbacks that keep the last ``Retry-After`` header's value."""

    def __init__(self) -> None:
        self.value: str | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.value = value.decode("latin-1")


def _retry_after(raw: bytes) -> str | None:
    """The ``Retry-After`` header of the reply in ``raw`` (already parsed once), or None."""
    finder = _RetryAfter()
    with contextlib.suppress(httptools.HttpParserError):  # bytes past the reply: its headers are read
        httptools.HttpResponseParser(finder).feed_data(raw)
    return finder.value


def _after_fork_in_child() -> None:
    for transport in list(_TRANSPORTS):
        transport._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _send_request(sock: socket.socket, request: bytes, deadline: float, flags: int) -> bool:
    """Send ``request`` at once without waiting (an exchange starts with an empty send buffer),
    and a larger request's rest under a timeout of what is left of ``deadline``. True when the
    rest was sent so: the caller then restores the socket's mode (it differs between the
    poller's and the kernel's read waits; restoring costs a system call, so only then)."""
    try:
        sent = sock.send(request, flags)
    except BlockingIOError:
        sent = 0
    if sent < len(request):  # a request larger than the buffer: the rest, by the deadline
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sock.sendall(memoryview(request)[sent:])
        return True
    return False
