"""Running the app under uvicorn: graceful drain of both transports, and connection timeouts.

On SIGTERM (or SIGINT) uvicorn starts its shutdown; :class:`DrainingServer`
first calls :meth:`RewardCore.begin_drain`, so at the same moment ``/readyz``
turns 503 and gRPC health NOT_SERVING, the gRPC server refuses new calls, and
uvicorn stops accepting connections. Work in flight on both transports then
has ``drain_grace_s`` to finish before the process exits 0.

:class:`HeaderTimeoutProtocol` closes a connection whose request headers have
not fully arrived ``header_timeout_s`` after it opened, or after the first
byte of a later request (uvicorn's keep-alive timer, which covers the idle
time between requests, stops at that first byte, so a client trickling
headers would otherwise hold a connection forever).

:class:`ReasonPhraseProtocol` lets the app choose a reply's reason phrase (the
``rewardgate.reason`` key of ``http.response.start``, advertised as a scope
extension, offered only on the compat routes; rewardgate/api/http/reason_phrase.py):
the trainers' built-in HTTP modes show only the status line of an error.

:class:`OneWriteReplyProtocol` writes a scoring route's reply in one write, not two.

:class:`QuickAccessLogProtocol` and the access formatter of :func:`server_config`
write uvicorn's access lines for about half their cost
(rewardgate/observability/access_log.py).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import re

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rewardgate.api.http.compat_errors import COMPAT_PATHS
from rewardgate.api.http.reason_phrase import REASON_EXTENSION, REASON_KEY, sanitise_reason
from rewardgate.api.http.scoring_routes import ROUTES
from rewardgate.config.settings import Settings
from rewardgate.observability.access_log import FORMATTER_PATH, AccessLogger


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """Closes a connection whose request headers are still incomplete ``header_timeout_s``
    after they began (the connection opened, or a later request's first byte arrived).

    One timer per connection, re-armed only when it fires (for what is left of the
    current request's allowance), rather than a loop timer armed and cancelled for every
    request: the same contract with less work per request (no throughput difference was
    measurable on a noisy machine, docs/benchmarks.md "Position bias"). A later request's
    headers begin at its parser's ``on_message_begin`` (its first byte), a call every
    request makes anyway."""

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        #: Loop time the pending headers began; None while none are pending (between requests,
        #: idle time is the keep-alive timer's).
        self._headers_since: float | None = None
        self._headers_begin()

    def on_message_begin(self) -> None:
        if self._headers_since is None:  # a later request (the first began with the connection)
            self._headers_begin()
        super().on_message_begin()

    def _headers_begin(self) -> None:
        self._headers_since = self.loop.time()
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._check_headers)

    def _check_headers(self) -> None:
        self._header_timer = None
        since = self._headers_since
        if since is None or self.transport.is_closing():
            return  # no headers pending: idle time between requests is the keep-alive timer's
        waited = self.loop.time() - since
        if waited >= self.header_timeout_s:
            self.transport.close()
        else:
            self._header_timer = self.loop.call_later(self.header_timeout_s - waited, self._check_headers)

    def on_headers_complete(self) -> None:
        self._headers_since = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)


class QuickAccessLogProtocol(HttpToolsProtocol):
    """Writes its access lines through :class:`AccessLogger` (the same lines without the
    caller lookup: rewardgate/observability/access_log.py)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.access_logger = AccessLogger(self.access_logger)


class OneWriteReplyProtocol(HttpToolsProtocol):
    """Writes a scoring route's reply, head and body, in one ``write``.

    uvicorn writes a reply's head when the app sends ``http.response.start`` and its body
    at the next message: two writes, so two segments with ``TCP_NODELAY``, and the caller
    wakes up twice for one reply. The scoring routes (and their guards' error envelopes)
    always send the body straight after the head, so for their requests the head waits
    for the body's write (:class:`_HeadHeldForBody`)."""

    #: The requests whose replies are written at once: ``POST`` to these paths.
    one_write_paths: frozenset[str] = frozenset(ROUTES)

    def _start_asgi_task(self, cycle, app) -> None:  # type: ignore[no-untyped-def]
        scope = cycle.scope
        if scope["method"] == "POST" and scope["path"] in self.one_write_paths:
            cycle.transport = _HeadHeldForBody(cycle.transport)
        super()._start_asgi_task(cycle, app)


class _HeadHeldForBody:
    """A transport whose first write (a reply's head) is held and sent with the next one;
    closing it sends a held head first. Everything else is the wrapped transport's."""

    __slots__ = ("_head", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if not self._started:
            self._started, self._head = True, data
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._transport, name)


class ReasonPhraseProtocol(HttpToolsProtocol):
    """Honours ``REASON_KEY`` of an ``http.response.start`` message: the reply's status line
    carries that reason (sanitised here too: one line of printable ASCII) instead of the
    standard phrase.

    uvicorn writes the status line from a table inside its ``send``. Rather than copy that
    ``send``, a start message with a reason is sent with the cycle's transport briefly
    replaced by :class:`_HeadWithReason`, which rewrites the status line of the one head
    written meanwhile. Replies without the key take uvicorn's own path unchanged (one dict
    lookup more per message). If uvicorn's internals change so that the head is not what is
    expected, the standard phrase is sent, never a broken reply
    (tests/integration/test_reason_phrase_protocol.py pins the behaviour)."""

    #: The paths whose requests are offered the extension (the compat routes): every other
    #: request takes uvicorn's own path, with no wrapped ``send`` (one set lookup per request).
    reason_paths: frozenset[str] = COMPAT_PATHS

    def _start_asgi_task(self, cycle, app) -> None:  # type: ignore[no-untyped-def]
        # Every request cycle starts here (pipelined ones later), before its task first runs
        # and before the app is handed the cycle's send.
        scope = cycle.scope
        if scope["path"] in self.reason_paths:
            extensions = scope.get("extensions")
            if extensions is None:
                scope["extensions"] = {REASON_EXTENSION: {}}
            else:
                extensions[REASON_EXTENSION] = {}
            cycle.send = functools.partial(_send_with_reason, cycle, cycle.send)
        super()._start_asgi_task(cycle, app)


async def _send_with_reason(cycle, send, message) -> None:  # type: ignore[no-untyped-def]
    reason = message.get(REASON_KEY)
    if reason is not None and isinstance(reason, str):
        reason = sanitise_reason(reason)
    if not reason:  # no key (every reply but a compat route's error), or nothing printable left
        await send(message)
        return
    transport = cycle.transport
    cycle.transport = _HeadWithReason(transport, message.get("status"), reason)
    try:
        await send(message)
    finally:
        cycle.transport = transport


class _HeadWithReason:
    """A transport whose next write, a response head of ``status``, gets ``reason``
    in its status line; everything else is the wrapped transport's."""

    def __init__(self, transport: asyncio.Transport, status: object, reason: str) -> None:
        self._transport = transport
        self._prefix = b"HTTP/1.1 %d " % status if isinstance(status, int) else None
        self._reason = reason.encode("ascii")
        self._rewritten = False

    def write(self, data: bytes) -> None:
        if not self._rewritten and self._prefix is not None and data.startswith(self._prefix):
            line_end = data.find(b"\r\n")
            if line_end > 0:
                data = self._prefix + self._reason + data[line_end:]
        self._rewritten = True  # only the head, the first write
        self._transport.write(data)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._transport, name)


class RedactApiKeys(logging.Filter):
    """Keeps ``?api_key=...`` (the compat routes' way to pass a key) out of the access log."""

    PATTERN = re.compile(r"(api_key=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record args: (client, method, path with query, http version, status);
        # only a path can hold a key, and most hold none (this runs on every request).
        args = record.args
        if isinstance(args, tuple):
            for arg in args:
                if isinstance(arg, str) and "api_key=" in arg:
                    record.args = tuple(
                        self.PATTERN.sub(r"\1REDACTED", a) if isinstance(a, str) else a for a in args
                    )
                    break
        return True


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets=None) -> None:
        context = getattr(self.app.state, "context", None)
        if context is not None:
            context.core.begin_drain()
        await super().shutdown(sockets)
        # uvicorn re-raises the signal once it has shut down (the process then dies of it);
        # a completed drain is a clean exit (status 0), as orchestrators expect.
        self._captured_signals.clear()


def server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration :func:`serve` runs ``app`` with."""
    protocol = type(
        "Protocol",
        (HeaderTimeoutProtocol, ReasonPhraseProtocol, OneWriteReplyProtocol, QuickAccessLogProtocol),
        {"header_timeout_s": settings.header_timeout_s},
    )
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["formatters"]["access"]["()"] = FORMATTER_PATH  # uvicorn's lines, written for less
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        http=protocol,
        log_config=log_config,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        timeout_graceful_shutdown=settings.drain_grace_s,
    )


def serve(app: FastAPI, settings: Settings) -> None:
    """Run ``app`` until SIGTERM/SIGINT, then drain (see the module docstring)."""
    config = server_config(app, settings)
    logging.getLogger("uvicorn.access").addFilter(RedactApiKeys())  # after Config set logging up
    DrainingServer(config, app).run()
