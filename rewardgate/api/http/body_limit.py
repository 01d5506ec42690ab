"""ASGI middleware enforcing the request body size limit (413).

It rejects on ``Content-Length`` before reading anything, and otherwise counts
bytes while buffering, so chunked bodies are bounded too. The buffered body is
replayed to the app; later ``receive`` calls go to the server, which keeps
client-disconnect detection working.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardgate.api.http.errors import envelope_response
from rewardgate.errors import PayloadTooLarge


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope["headers"])
        if declared is not None and declared > self.max_body_bytes:
            await self._reject(scope, receive, send, declared)
            return
        try:
            body = await self._read(receive)
        except _TooLarge as exc:
            await self._reject(scope, receive, send, exc.size)
            return
        if body is None:
            return  # client went away before sending the body
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None if the client went away first.

        Raises:
            _TooLarge: the body passed the limit (read no further).
        """
        message = await receive()
        if message["type"] != "http.request":
            return None
        body = message.get("body", b"")
        size = len(body)
        if size > self.max_body_bytes:
            raise _TooLarge(size)
        if not message.get("more_body", False):
            return body  # the usual request: one message
        chunks = [body]
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge(size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        error = PayloadTooLarge(
            f"request body of at least {size} bytes exceeds the limit of {self.max_body_bytes}"
        )
        await envelope_response(error)(scope, receive, send)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The ``Content-Length`` the client declared, if it is a number (a loop, not
    ``dict(headers)``: this runs for every request)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
