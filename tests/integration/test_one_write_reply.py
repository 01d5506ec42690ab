"""A scoring route's reply leaves the server in one write (rewardgate/server.py OneWriteReplyProtocol).

The app here sends its reply's head, waits a moment, then sends the body. Had the head
been written on its own, a reader waiting on the socket gets it alone in its first read;
written with the body, the first read holds both. Other paths keep uvicorn's two writes.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.support.server import uvicorn_in_thread

BODY = b'{"ok": true}'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
        }
    )
    await asyncio.sleep(0.3)  # the body comes later: a head written alone arrives alone
    if scope["query_string"] == b"fail":
        raise RuntimeError("the body never comes")
    await send({"type": "http.response.body", "body": BODY})


@pytest.fixture(scope="module")
def port():
    with uvicorn_in_thread(app, log_level="critical") as port:
        yield port


def first_read_and_rest(port: int, method: str, path: str) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(f"{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: 0\r\n\r\n".encode())
        first = conn.recv(65536)
        rest = b""
        while not (first + rest).endswith(BODY):
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        return first, rest


@pytest.mark.parametrize("path", ["/v1/score", "/v1/compare", "/get_reward", "/slime/reward"])
def test_a_scoring_routes_reply_arrives_whole(port, path):
    first, rest = first_read_and_rest(port, "POST", path)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\n" + BODY)
    assert rest == b""


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/score"), ("POST", "/v1/other")])
def test_other_requests_keep_uvicorns_two_writes(port, method, path):
    first, rest = first_read_and_rest(port, method, path)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\n")
    assert rest == BODY


def test_a_held_head_is_still_sent_when_the_reply_breaks_off(port):
    first, rest = first_read_and_rest(port, "POST", "/v1/score?fail")
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\n")
    assert rest == b""  # then the connection closes: the body never came
