"""The error in the status line's reason phrase, on the routes whose callers drop the body.

OpenRLHF's ``--remote_rm_url`` (``requests``: ``raise_for_status()``) and slime's
``remote_rm`` (aiohttp: ``raise_for_status()``) log the exception of a non-2xx
reply and never read its body. The one part of the reply those messages show
is the status line's reason phrase (``422 Client Error: <reason> for url: ...``;
``422, message='<reason>', url=...``). On the compat routes
(:data:`rewardgate.api.http.compat_errors.COMPAT_PATHS`) every non-2xx reply
therefore names its error there::

    HTTP/1.1 422 Unprocessable Entity: invalid_input: query: has 2 entries ...

ASGI has no field for a reason phrase. The service's uvicorn protocol
(rewardgate/server.py) advertises :data:`REASON_EXTENSION` in the request's
``scope["extensions"]`` and honours the key :data:`REASON_KEY` of an
``http.response.start`` message; the outermost guard (rewardgate/api/http/request_guard.py)
sends a compat request's replies through :class:`ErrorHeadHolder`, which sets that key,
only where the extension is advertised, so under any other server the reply
keeps its standard phrase. Every other route keeps the standard phrase too.

A reason phrase is part of the status line: :func:`sanitise_reason` (applied
by the middleware and again by the protocol, which trusts no app) keeps it to
one line of printable ASCII of at most :data:`MAX_REASON_CHARS` characters, so
no message can split the status line or inject a header.
"""

from __future__ import annotations

import http
import unicodedata

import orjson
from starlette.types import Message, Scope, Send

from rewardgate.api.http.compat_errors import COMPAT_PATHS

#: The ``scope["extensions"]`` entry a server that honours :data:`REASON_KEY` advertises.
REASON_EXTENSION = "rewardgate.reason_phrase"
#: The ``http.response.start`` key holding the reason phrase (a ``str``).
REASON_KEY = "rewardgate.reason"
#: Longest reason phrase sent (clients log it whole; the body holds the full message).
MAX_REASON_CHARS = 200
#: An error body larger than this is sent as it is, with the standard phrase (envelopes are small).
MAX_HELD_BODY_BYTES = 64 * 1024

_PRINTABLE = frozenset(range(0x20, 0x7F))


def sanitise_reason(text: str) -> str:
    """``text`` as one line of printable ASCII, at most :data:`MAX_REASON_CHARS` characters.

    Letters with accents lose them (``é`` -> ``e``), other non-ASCII characters become
    ``?``, control characters (CR and LF included) and runs of whitespace become one
    space; a longer text is cut and ends in ``...``."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_text = stripped.encode("ascii", "replace").decode("ascii")
    one_line = " ".join("".join(c if ord(c) in _PRINTABLE else " " for c in ascii_text).split())
    if len(one_line) > MAX_REASON_CHARS:
        one_line = one_line[: MAX_REASON_CHARS - 3].rstrip() + "..."
    return one_line


def error_reason(status: int, body: bytes) -> str | None:
    """``<standard phrase>: <type>: <message>`` of an error envelope reply; None if ``body``
    is not the envelope (the reply then keeps its standard phrase)."""
    try:
        error = orjson.loads(body)["error"]
        error_type, message = error["type"], error["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(error_type, str) or not isinstance(message, str):
        return None
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return sanitise_reason(f"{phrase}: {error_type}: {message}")


def holds_error_heads(scope: Scope, paths: frozenset[str] = COMPAT_PATHS) -> bool:
    """Whether the request of ``scope`` gets its error replies' reason phrases: a compat
    route, under a server advertising :data:`REASON_EXTENSION` (every other request keeps
    the standard phrase)."""
    return scope["path"] in paths and REASON_EXTENSION in (scope.get("extensions") or {})


class ErrorHeadHolder:
    """The ``send`` of one compat request: a non-2xx head waits for its body's envelope and is
    then sent with :data:`REASON_KEY`, the phrase of its error; 2xx replies pass untouched."""

    __slots__ = ("chunks", "head", "held_bytes", "passing", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.head: Message | None = None
        self.chunks: list[bytes] = []
        self.held_bytes = 0
        self.passing = False  # a 2xx reply, or the held head already sent

    async def __call__(self, message: Message) -> None:
        if self.passing:
            await self.send(message)
        elif message["type"] == "http.response.start":
            if 200 <= message["status"] < 300:
                self.passing = True
                await self.send(message)
            else:
                self.head = message
        elif message["type"] == "http.response.body" and self.head is not None:
            body = message.get("body", b"")
            more_body = message.get("more_body", False)
            self.chunks.append(body)
            self.held_bytes += len(body)
            if more_body and self.held_bytes <= MAX_HELD_BODY_BYTES:
                return
            held = b"".join(self.chunks)
            head = self.head
            reason = None if more_body else error_reason(head["status"], held)
            self.passing, self.head, self.chunks = True, None, []
            await self.send(head if reason is None else {**head, REASON_KEY: reason})
            await self.send({"type": "http.response.body", "body": held, "more_body": more_body})
        else:
            await self.send(message)
