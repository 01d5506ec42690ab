"""The least a Python caller can do for one single-item ``/v1/score`` exchange: the floor.

One prebuilt request written to a keep-alive socket, the reply read and parsed by
httptools, its JSON decoded by orjson and the reward read; nothing else (no
request building, no retries, no result objects). bench/client_vs_wrk.py runs it
as a side beside the client and wrk, bench/instructions.py counts its
instructions: what the Python client costs above it is the client's own work.

    python bench/raw_caller.py URL SECONDS   # prints items/s
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable

import httptools
import orjson

ITEM = {"response": "answer 7", "reference": "answer 7"}


class _Reply:
    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_message_complete(self) -> None:
        self.done = True


def _connect(url: str) -> tuple[socket.socket, bytes]:
    """A keep-alive connection to the service at ``url`` and the prebuilt single-item request."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = orjson.dumps({"pipeline": "exact", "items": [ITEM], "options": {"cache": False}})
    request = (
        b"POST /v1/score HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % (host.encode(), len(body))
    ) + body
    return sock, request


def raw_call(url: str) -> Callable[[], float]:
    """A function making one exchange with the service at ``url`` and returning the reward."""
    sock, request = _connect(url)

    def call() -> float:
        sock.sendall(request)
        reply = _Reply()
        parser = httptools.HttpResponseParser(reply)
        while not reply.done:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection before a whole reply")
            parser.feed_data(data)
        return orjson.loads(b"".join(reply.body))["results"][0]["reward"]

    return call


def raw_call_kept(url: str) -> Callable[[], float]:
    """:func:`raw_call` with what a connection can keep between exchanges: its parser (httptools
    resets it after each whole reply) and a read buffer (``recv_into``). A lower floor, for
    bench/client_pieces.py; :func:`raw_call` stays the floor bench/client_vs_wrk.py reports."""
    sock, request = _connect(url)
    reply = _Reply()
    parser = httptools.HttpResponseParser(reply)
    buffer = memoryview(bytearray(65536))

    def call() -> float:
        sock.sendall(request)
        reply.body, reply.done = [], False
        while not reply.done:
            size = sock.recv_into(buffer)
            if not size:
                raise ConnectionError("the server closed the connection before a whole reply")
            parser.feed_data(buffer[:size])
        return orjson.loads(b"".join(reply.body))["results"][0]["reward"]

    return call


def main() -> None:
    url, seconds = sys.argv[1], float(sys.argv[2])
    call = raw_call(url)
    for _ in range(50):
        call()
    done, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        call()
        done += 1
    print(done / seconds)


if __name__ == "__main__":
    main()
