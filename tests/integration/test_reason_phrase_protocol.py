"""The service's uvicorn protocol honours an app's reason phrase, on a real socket.

This pins the one place that leans on uvicorn's internals (rewardgate/server.py
ReasonPhraseProtocol): if a uvicorn release changes how a response head is
written, these tests fail (the protocol then sends the standard phrase).
"""

from __future__ import annotations

import socket

import pytest

from rewardgate.api.http.reason_phrase import REASON_EXTENSION, REASON_KEY
from tests.support.server import uvicorn_in_thread

INJECTION = "bad\r\nSet-Cookie: evil=1\r\n\r\nHTTP/1.1 200 OK\x00\x7f caf\u00e9 \u2713"


async def app(scope, receive, send):
    """Answers 422 with the reason named by the path, and says whether the extension was offered."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    offered = REASON_EXTENSION in (scope.get("extensions") or {})
    start = {"type": "http.response.start", "status": 422, "headers": [(b"content-type", b"text/plain")]}
    reasons = {b"reason": "Unprocessable Entity: invalid_input: query[0]: empty", b"inject": INJECTION}
    if scope["query_string"] in reasons:
        start[REASON_KEY] = reasons[scope["query_string"]]
    await send(start)
    await send({"type": "http.response.body", "body": b"offered" if offered else b"not offered"})


@pytest.fixture(scope="module")
def server():
    with uvicorn_in_thread(app, log_level="warning") as port:
        yield port


def exchange(port: int, raw: bytes, replies: int = 1) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Send ``raw`` (one or more requests) and read ``replies`` responses: (status line, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(raw)
        buffer = b""
        out = []
        while len(out) < replies:
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                assert chunk, f"connection closed after {buffer!r}"
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            status_line, *lines = head.split(b"\r\n")
            headers = dict(line.split(b": ", 1) for line in lines)
            length = int(headers[b"content-length"]) if b"content-length" in headers else None
            if length is None:  # chunked: one chunk, then the last
                while b"0\r\n\r\n" not in buffer:
                    buffer += conn.recv(65536)
                size, rest = buffer.split(b"\r\n", 1)
                body, buffer = rest[: int(size, 16)], rest.split(b"0\r\n\r\n", 1)[1]
            else:
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
            out.append((status_line, headers, body))
        return out


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def test_the_protocol_offers_the_extension_and_writes_the_apps_reason(server):
    ((status_line, _, body),) = exchange(server, get("/get_reward?reason"))
    assert status_line == b"HTTP/1.1 422 Unprocessable Entity: invalid_input: query[0]: empty"
    assert body == b"offered"


def test_a_reply_without_a_reason_keeps_the_standard_phrase(server):
    ((status_line, _, _),) = exchange(server, get("/get_reward"))
    assert status_line == b"HTTP/1.1 422 Unprocessable Entity"


def test_a_reason_cannot_split_the_status_line_or_add_headers(server):
    ((status_line, headers, body), (after, _, _)) = exchange(
        server, get("/slime/reward?inject") + get("/get_reward"), 2
    )
    assert status_line == b"HTTP/1.1 422 bad Set-Cookie: evil=1 HTTP/1.1 200 OK cafe ?"
    assert set(headers) == {b"content-type", b"transfer-encoding", b"date", b"server"}
    assert body == b"offered"
    assert after == b"HTTP/1.1 422 Unprocessable Entity"  # the connection's next reply is intact


def test_pipelined_and_kept_alive_requests_each_get_their_own_phrase(server):
    replies = exchange(server, get("/get_reward?reason") + get("/get_reward") + get("/get_reward?reason"), 3)
    assert [line for line, _, _ in replies] == [
        b"HTTP/1.1 422 Unprocessable Entity: invalid_input: query[0]: empty",
        b"HTTP/1.1 422 Unprocessable Entity",
        b"HTTP/1.1 422 Unprocessable Entity: invalid_input: query[0]: empty",
    ]


def test_other_paths_are_not_offered_the_extension_and_keep_the_standard_phrase(server):
    """Only the compat routes' requests get a wrapped send: a reason set elsewhere is ignored."""
    ((status_line, _, body),) = exchange(server, get("/v1/score?reason"))
    assert status_line == b"HTTP/1.1 422 Unprocessable Entity"
    assert body == b"not offered"
