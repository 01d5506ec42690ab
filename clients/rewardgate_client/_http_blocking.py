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
(retryable), as over aiohttp, and is never reused. One transport belongs to
one thread; a forked child opens its own connection.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httptools

from rewardgate_client._http import decode_reply, encode_body
from rewardgate_client.errors import ConnectionFailed, DeadlineExceeded
from rewardgate_client.types import ScoreReply

_READ_SIZE = 256 * 1024


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
        self._socket: socket.socket | None = None
        self._pid = os.getpid()

    def score(self, body: dict[str, Any], timeout_s: float) -> ScoreReply:
        return ScoreReply.from_dict(self._post("/v1/score", encode_body(body), timeout_s))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _post(self, path: str, content: bytes, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        head = f"POST {self._prefix}{path} HTTP/1.1\r\n{self._fields}content-length: {len(content)}\r\n\r\n"
        reply = _Reply()
        parser = reply.parser = httptools.HttpResponseParser(reply)
        try:
            sock = self._connect(timeout_s)
            sock.sendall(head.encode("latin-1") + content)
            while not reply.complete:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                data = sock.recv(_READ_SIZE)
                if not data:
                    raise ConnectionResetError("the server closed the connection before a whole reply")
                parser.feed_data(data)
        except TimeoutError as exc:
            self.close()
            raise DeadlineExceeded(f"no answer within {timeout_s:.3g} s") from exc
        except (OSError, httptools.HttpParserError) as exc:
            self.close()
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
        if not reply.keep_alive:
            self.close()
        return decode_reply(reply.status, reply.retry_after, b"".join(reply.body))

    def _connect(self, timeout_s: float) -> socket.socket:
        if self._pid != os.getpid():  # a forked child: the socket is the parent's too
            self.close()
            self._pid = os.getpid()
        if self._socket is not None and _dropped(self._socket):
            self.close()
        if self._socket is None:
            sock = socket.create_connection((self._host, self._port), timeout=timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._host)
            self._socket = sock
        return self._socket


class _Reply:
    """httptools callbacks: what a reply carries that the client reads. Status and
    keep-alive are read when the headers are complete (the parser resets for the next
    message once this one is)."""

    __slots__ = ("body", "complete", "keep_alive", "parser", "retry_after", "status")

    def __init__(self) -> None:
        self.parser: Any = None
        self.status = 0
        self.keep_alive = False
        self.body: list[bytes] = []
        self.complete = False
        self.retry_after: str | None = None

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.retry_after = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


def _dropped(sock: socket.socket) -> bool:
    """True when an idle keep-alive socket is readable: the server closed it (or sent
    something unasked), so it must not carry the next request."""
    try:
        if hasattr(select, "poll"):  # no limit on descriptor numbers, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
