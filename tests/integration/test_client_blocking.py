"""The sync client's blocking HTTP path against a raw HTTP/1.1 server on a real socket.

The server is written against the socket on purpose: it can close a kept-alive
connection after a reply without saying so, or cut a reply short, which a
framework server does not do on request.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import ssl
import sys
import threading

import pytest
import trustme
from rewardgate_client import ConnectionFailed, DeadlineExceeded, RetryPolicy, RewardClient, _http_blocking
from rewardgate_client._http_blocking import _Connection

from tests.support.server import free_port

REPLY = {
    "pipeline": "p",
    "pipeline_hash": "sha256:raw",
    "results": [{"id": "0", "reward": 1.0, "status": "ok", "components": {}, "errors": {}, "cached": []}],
    "usage": {"items": 1, "cache_hits": 0, "model_tokens": 0, "judge_tokens": 0},
    "versions": {},
}


class RawServer:
    """Answers every ``POST`` with :data:`REPLY` (keep-alive framing). ``after_reply``:
    ``"keep"`` serves the next request on the same connection, ``"close"`` closes it
    silently; ``truncate`` replies (the first ones) stop halfway and close; ``tls``
    serves HTTPS with that context; ``raw_reply`` is sent as it is instead of a reply;
    ``surplus`` is sent right behind each reply, in the same write (bytes never asked for);
    ``stall_s``: each reply's second half follows its first that much later."""

    def __init__(
        self,
        after_reply: str = "keep",
        truncate: int = 0,
        tls: ssl.SSLContext | None = None,
        raw_reply: bytes | None = None,
        surplus: bytes = b"",
        stall_s: float = 0.0,
    ) -> None:
        self.after_reply = after_reply
        self.truncate = truncate
        self.tls = tls
        self.raw_reply = raw_reply
        self.surplus = surplus
        self.stall_s = stall_s
        self.connections = 0
        self.requests: list[dict] = []
        self.closed = threading.Event()
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", free_port()))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:  # the client refused the certificate
                conn.close()
                return
        with conn, conn.makefile("rb") as reader:
            while (request := _read_request(reader)) is not None:
                self.requests.append(request)
                if self.raw_reply is not None:
                    conn.sendall(self.raw_reply)
                    break
                body = json.dumps(REPLY).encode()
                head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
                head += "\r\n"
                if self.truncate > 0:
                    self.truncate -= 1
                    conn.sendall(head.encode() + body[: len(body) // 2])
                    break
                if self.stall_s:
                    conn.sendall(head.encode() + body[: len(body) // 2])
                    if self.stopped.wait(self.stall_s):  # the test is over
                        break
                    body = body[len(body) // 2 :]
                    head = ""
                conn.sendall(head.encode() + body + self.surplus)
                if self.after_reply == "close":
                    break
        self.closed.set()

    def stop(self) -> None:
        self.stopped.set()
        self._listener.close()


def _read_request(reader) -> dict | None:
    length = None
    line = reader.readline()
    if not line:
        return None
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return json.loads(reader.read(length))


@pytest.fixture
def raw_server(request):
    server = RawServer(**getattr(request, "param", {}))
    yield server
    server.stop()


def test_one_kept_alive_connection_carries_a_threads_calls(raw_server):
    with RewardClient(raw_server.url) as client:
        for _ in range(5):
            (result,) = client.score([{"response": "x"}], "p")
            assert result.reward == 1.0
    assert raw_server.connections == 1 and len(raw_server.requests) == 5
    assert raw_server.requests[0]["options"]["deadline_ms"] <= 60_000  # the deadline travels


@pytest.mark.parametrize("raw_server", [{"after_reply": "close"}], indirect=True)
def test_a_connection_the_server_closed_while_idle_is_not_reused(raw_server):
    # One attempt only: reusing the dead connection would fail the call.
    with RewardClient(raw_server.url, retry=RetryPolicy(attempts=1)) as client:
        for _ in range(3):
            raw_server.closed.clear()
            (result,) = client.score([{"response": "x"}], "p")
            assert result.reward == 1.0
            assert raw_server.closed.wait(5)
    assert raw_server.connections == 3 and len(raw_server.requests) == 3


@pytest.mark.parametrize("raw_server", [{"truncate": 1}], indirect=True)
def test_a_reply_cut_short_is_connection_failed_and_retried(raw_server):
    client = RewardClient(raw_server.url, retry=RetryPolicy(attempts=1))
    with client, pytest.raises(ConnectionFailed, match="before a whole reply"):
        client.score([{"response": "x"}], "p")
    raw_server.truncate = 1
    with RewardClient(raw_server.url, retry=RetryPolicy(initial_backoff_s=0.01)) as client:
        (result,) = client.score([{"response": "x"}], "p")
    assert result.reward == 1.0 and len(raw_server.requests) == 3


@pytest.mark.parametrize("raw_server", [{"raw_reply": b"SPDY/9 what\r\n\r\n"}], indirect=True)
def test_a_reply_that_is_not_http_is_connection_failed(raw_server):
    with RewardClient(raw_server.url, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(ConnectionFailed, match="HttpParserError"):
            client.score([{"response": "x"}], "p")
        (transport,) = client._blocking
        assert transport._socket is None  # closed, never reused


UNASKED = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n" + b'{"x": "no"}'


@pytest.mark.parametrize(
    "raw_server",
    [{"surplus": UNASKED}, {"surplus": UNASKED[:20]}, {"surplus": b"HTTP/1.1 5"}],
    ids=["a-whole-reply", "half-a-reply", "a-status-line-begun"],
    indirect=True,
)
def test_bytes_past_the_reply_leave_it_standing_and_the_connection_unused(raw_server):
    # The connection keeps its parser between calls: what the server sent past the reply
    # asked for must neither change this answer nor reach the next call's.
    with RewardClient(raw_server.url, retry=RetryPolicy(attempts=1)) as client:
        for _ in range(3):
            (result,) = client.score([{"response": "x"}], "p")
            assert result.reward == 1.0 and result.pipeline_hash == "sha256:raw"
            (transport,) = client._blocking
            assert transport._socket is None  # out of step: closed, never reused
    assert raw_server.connections == 3 and len(raw_server.requests) == 3


@pytest.mark.parametrize("raw_server", [{"stall_s": 30}], indirect=True)
def test_a_reply_that_stalls_halfway_ends_at_the_deadline(raw_server):
    # The first read gets half the reply; the rest would come 30 s later, and the call
    # would then succeed: DeadlineExceeded says the second read was bounded by the deadline.
    with RewardClient(raw_server.url, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(DeadlineExceeded):
            client.score([{"response": "x"}], "p", timeout_s=1)
        (transport,) = client._blocking
        assert transport._socket is None  # mid-reply: never reused


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="kernel read bounds: Linux only")


@linux_only
def test_a_steady_caller_sets_the_kernels_read_bound_once(raw_server, monkeypatch):
    bounds = []
    original = _Connection._bound_reads
    monkeypatch.setattr(_Connection, "_bound_reads", lambda self, s: (bounds.append(s), original(self, s)))
    with RewardClient(raw_server.url) as client:
        for _ in range(5):
            client.score([{"response": "x"}], "p")
        (transport,) = client._blocking
        assert transport._connection.kernel_bounds and transport._socket.gettimeout() is None
    assert len(bounds) == 1 and 59 < bounds[0] < 60


@pytest.mark.parametrize("raw_server", [{"stall_s": 0.3}], indirect=True)
def test_where_the_kernel_refuses_a_read_bound_reads_wait_on_the_poller(raw_server, monkeypatch):
    monkeypatch.setattr(_http_blocking, "_takes_read_bounds", lambda sock: False)
    with RewardClient(raw_server.url, retry=RetryPolicy(attempts=1)) as client:
        (result,) = client.score([{"response": "x"}], "p")
        connection = client._blocking[0]._connection
        assert not connection.kernel_bounds and connection.sock.getblocking() is False
    assert result.reward == 1.0


@linux_only
@pytest.mark.parametrize("raw_server", [{"stall_s": 0.3}], indirect=True)
def test_a_read_the_kernel_cuts_short_waits_on_until_the_deadline(raw_server):
    # The kernel bounds each read to 20 ms here, though the call has 10 s: reads time out
    # while the reply's second half is 300 ms away, and the call still gets its answer.
    with RewardClient(raw_server.url, retry=RetryPolicy(attempts=1)) as client:
        client.score([{"response": "x"}], "p")
        connection = client._blocking[0]._connection
        connection._bound_reads(0.02)
        connection.read_bound = 5.0  # as if it fitted: not re-set before the reads
        (result,) = client.score([{"response": "x"}], "p", timeout_s=10)
    assert result.reward == 1.0 and raw_server.connections == 1


def test_a_request_larger_than_the_send_buffer_goes_whole(raw_server):
    # A plain socket is non-blocking: what one send cannot take is sent by the deadline.
    response = "x" * (32 << 20)
    with RewardClient(raw_server.url, retry=RetryPolicy(attempts=1)) as client:
        for _ in range(2):  # and the connection serves the next call as before
            (result,) = client.score([{"response": response}], "p")
            assert result.reward == 1.0
    assert [len(r["items"][0]["response"]) for r in raw_server.requests] == [len(response)] * 2
    assert raw_server.connections == 1


def test_each_thread_has_its_own_connection(raw_server):
    with RewardClient(raw_server.url) as client:

        def calls():
            for _ in range(3):
                client.score([{"response": "x"}], "p")

        threads = [threading.Thread(target=calls) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(client._blocking) == 4
    assert raw_server.connections == 4 and len(raw_server.requests) == 12


def test_a_forked_child_opens_its_own_connection(raw_server):
    context = multiprocessing.get_context("fork")
    with RewardClient(raw_server.url) as client:
        client.score([{"response": "x"}], "p")
        child = context.Process(target=client.score, args=([{"response": "y"}], "p"))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        (result,) = client.score([{"response": "z"}], "p")  # the parent's connection is intact
    assert result.reward == 1.0
    assert raw_server.connections == 2 and len(raw_server.requests) == 3


def test_https_takes_the_blocking_path_and_checks_the_certificate(monkeypatch, tmp_path):
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = RawServer(tls=context)
    url = server.url.replace("http://", "https://")
    try:
        untrusted = RewardClient(url, retry=RetryPolicy(attempts=1))
        with untrusted, pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.score([{"response": "x"}], "p")
        authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # OpenSSL's default trust store
        with RewardClient(url) as client:
            for _ in range(2):
                (result,) = client.score([{"response": "x"}], "p")
                assert result.reward == 1.0
            assert client._blocking
        assert len(server.requests) == 2 and server.connections == 2  # one refused, one kept alive
    finally:
        server.stop()
