"""Chaos suite: faults and hostile traffic against the running service, and what the user gets.

Each test asserts outcomes a caller sees: counts of 200/429/503/504, no lost
item, no silent zero, no 500, no dropped connection, no leaked process or
temporary directory. Figures from a run are in docs/reliability.md.
Redis and Triton outages under load are in test_redis_cache_e2e.py and
test_triton_e2e.py (also marked ``chaos``).
"""

import asyncio
import collections
import json
import os
import signal
import socket
import time
from pathlib import Path

import grpc
import httpx
import pytest
from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.config.settings import default_pipeline_file
from rewardgate.sources.rule.sandbox.runner import live_processes
from tests.support.server import ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

SANDBOX_UIDS = range(61_000, 65_000)
SLEEPY_CODE = "import time\ndef add(a, b):\n    time.sleep(30)\n    return a + b\n"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("chaos") / "service.log"
    env = {"REWARDGATE_CACHE_MAX_ENTRIES": "0", "REWARDGATE_HEADER_TIMEOUT_S": "1"}
    process = ServiceProcess(default_pipeline_file(), env=env, log_path=log)
    try:
        yield process.wait()
    finally:
        process.stop()


def sandbox_processes() -> list[int]:
    """Processes of sandbox runs in progress (the cells and their prepared slots stay)."""
    return live_processes(SANDBOX_UIDS, runs_only=True)


def verifier_workers(service: ServiceProcess) -> list[int]:
    children = Path(f"/proc/{service.process.pid}/task/{service.process.pid}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def math_items(count: int, start: int = 0) -> list[dict]:
    return [{"response": f"\\boxed{{{k}}}", "reference": str(k)} for k in range(start, start + count)]


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


# ---------------------------------------------------------------- verifier pool


def test_a_killed_verifier_worker_heals_without_a_restart(service):
    before = service.metric("rewardgate_verifier_pool_restarts_total")
    os.kill(verifier_workers(service)[0], signal.SIGKILL)
    wait_until(
        lambda: service.metric("rewardgate_verifier_pool_restarts_total") > before, 10, "no heal started"
    )
    assert httpx.get(service.url + "/healthz").status_code == 200  # no restart needed
    wait_until(lambda: httpx.get(service.url + "/readyz").status_code == 200, 60, "never ready again")
    reply = httpx.post(
        service.url + "/v1/score", json={"pipeline": "math", "items": math_items(8)}, timeout=30
    )
    assert reply.status_code == 200 and [r["reward"] for r in reply.json()["results"]] == [1.0] * 8


async def test_timed_out_code_requests_leave_no_sandbox_and_spare_the_workers(service):
    workers = set(verifier_workers(service))
    body = {
        "pipeline": "code",
        "items": [{"response": SLEEPY_CODE, "reference": "assert add(1, 2) == 3\n"}],
        "options": {"deadline_ms": 300},
    }
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        replies = await asyncio.gather(*(client.post("/v1/score", json=body) for _ in range(20)))
    assert collections.Counter(r.status_code for r in replies) == {504: 20}
    ended = time.monotonic()
    wait_until(lambda: not sandbox_processes(), 5, "sandboxes outlived their requests")
    settled_s = time.monotonic() - ended
    assert set(verifier_workers(service)) == workers  # cancellation killed no worker
    assert not await asyncio.to_thread(lambda: list(Path("/tmp").glob("rewardgate-sandbox-*")))
    good = {
        "pipeline": "code",
        "items": [{"response": "def add(a, b):\n    return a + b\n", "reference": "assert add(1, 2) == 3\n"}],
    }
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        reply = await client.post("/v1/score", json=good)
    assert reply.status_code == 200 and reply.json()["results"][0]["reward"] == 1.0
    print(f"sandboxes gone {settled_s:.2f}s after the last 504")


# ---------------------------------------------------------------- overload


async def test_ten_times_capacity_gets_fast_429s_and_no_504_among_admitted(service):
    """Callers honour Retry-After, as the client and the trainer adapters do."""
    counts: collections.Counter = collections.Counter()
    latency: dict[int, list[float]] = collections.defaultdict(list)
    wrong = 0

    async def caller(client, index, stop):
        nonlocal wrong
        start = index * 10_000
        while time.monotonic() < stop:
            items = math_items(256, start)
            start += 256
            sent = time.monotonic()
            reply = await client.post(
                "/v1/score", json={"pipeline": "math", "items": items, "options": {"deadline_ms": 5000}}
            )
            counts[reply.status_code] += 1
            latency[reply.status_code].append(time.monotonic() - sent)
            if reply.status_code == 200:
                wrong += sum(r["reward"] != 1.0 for r in reply.json()["results"])
            elif reply.status_code == 429:
                assert int(reply.headers["retry-after"]) >= 1
                await asyncio.sleep(min(float(reply.headers["retry-after"]), 2.0))

    async with httpx.AsyncClient(
        base_url=service.url, timeout=30, limits=httpx.Limits(max_connections=32)
    ) as client:
        stop = time.monotonic() + 10
        await asyncio.gather(*(caller(client, i, stop) for i in range(32)))
    assert counts[429] > counts[200] > 0, counts  # far more offered than served
    assert set(counts) <= {200, 429}, counts  # no 504 among admitted requests, no 5xx
    assert wrong == 0
    p50 = {code: sorted(v)[len(v) // 2] for code, v in latency.items()}
    print(f"overload: {dict(counts)}; p50 s {p50}; max 200 {max(latency[200]):.2f}s")


# ---------------------------------------------------------------- malformed input


def malformed_http_bodies() -> list[tuple[bytes, str]]:
    """(body, content type) pairs, each wrong in its own way."""

    def item(**fields):
        return {"response": "a", "reference": "a", **fields}

    deep: dict = {}
    cursor = deep
    for _ in range(300):
        cursor["a"] = {}
        cursor = cursor["a"]
    shapes = [
        b"",
        b"{",
        b"[]",
        b"null",
        b"42",
        b'"text"',
        b"{'single': 'quotes'}",
        b"\xff\xfe\x00",
        b'{"pipeline": "exact", "items": [{"response": "\xff"}]}',
        b'{"pipeline": "exact", "items": [{"response": "\\ud800", "reference": "a"}]}',
        b'{"pipeline": "exact", "items": [{"response": "a", "metadata": {"x": NaN}}]}',
        b'{"pipeline": "exact", "items": [{"response": "a", "metadata": {"x": 1e999}}]}',
        b'{"pipeline": "exact", "items": [{"response": "a", "metadata": {"x": 99999999999999999999999}}]}',
        json.dumps({"pipeline": "exact", "items": [item(metadata=deep)]}).encode(),
        json.dumps({"pipeline": "exact", "items": []}).encode(),
        json.dumps({"pipeline": "nope", "items": [item()]}).encode(),
        json.dumps({"pipeline": "exact", "items": [item(response=None)]}).encode(),
        json.dumps({"pipeline": "exact", "items": [item(response=["a"])]}).encode(),
        json.dumps({"pipeline": "exact", "items": [item(prompt=[{"role": 1}])]}).encode(),
        json.dumps({"pipeline": "exact", "items": [item(id="x"), item(id="x")]}).encode(),
        json.dumps({"pipeline": "exact", "items": [item()], "options": {"deadline_ms": -1}}).encode(),
        json.dumps({"pipeline": "exact", "items": [item()], "options": {"deadline_ms": 10**12}}).encode(),
        json.dumps({"pipeline": "exact", "items": [item()], "bogus": True}).encode(),
        json.dumps({"pipeline": "exact", "items": [item()] * 5000}).encode(),
        json.dumps({"pipeline": "sql_typo", "items": [item(metadata={"db": "../../etc/passwd"})]}).encode(),
    ]
    bodies = [(shape, "application/json") for shape in shapes]
    bodies += [(b"pipeline=exact", "application/x-www-form-urlencoded"), (b"\x00" * 64, "application/json")]
    return bodies


async def test_two_thousand_malformed_http_requests_get_typed_errors_on_kept_alive_connections(service):
    paths = ["/v1/score", "/v1/compare", "/get_reward", "/slime/reward"]
    cases = [(path, body, kind) for path in paths for body, kind in malformed_http_bodies()]
    statuses: collections.Counter = collections.Counter()
    async with httpx.AsyncClient(
        base_url=service.url, timeout=30, limits=httpx.Limits(max_connections=4)
    ) as client:
        for _ in range(2000 // len(cases) + 1):
            for path, body, kind in cases:
                reply = await client.post(path, content=body, headers={"content-type": kind})
                statuses[reply.status_code] += 1
                envelope = reply.json()["error"]
                assert set(envelope) == {"type", "message", "retryable"}, reply.text
                assert reply.status_code in (404, 413, 422), (path, body[:80], reply.status_code, reply.text)
        # The same four connections served everything: none was dropped after an error.
        assert (await client.get("/healthz")).status_code == 200
    assert sum(statuses.values()) >= 2000 and statuses[500] == 0
    print(f"malformed HTTP: {dict(statuses)}")


def malformed_grpc_messages() -> list[bytes]:
    def score(**item):
        message = pb.ScoreRequest(pipeline="exact")
        message.items.add(response="a", reference="a", **item)
        return message

    nan = score()
    nan.items[0].metadata.update({"x": float("nan")})
    deep = score()
    cursor = deep.items[0].metadata
    for _ in range(60):
        cursor = cursor.get_or_create_struct("a")
    invalid_utf8 = b"\n\x05exact\x12\x05\x12\x03\xff\xfe\xfd"  # items[0].response is not UTF-8
    return [
        b"\xff" * 16,
        b"\x0a\xff\xff\xff\xff\x0f",
        b"garbage bytes",
        invalid_utf8,
        nan.SerializeToString(),
        deep.SerializeToString(),
        pb.ScoreRequest(pipeline="exact").SerializeToString(),  # no items
        pb.ScoreRequest(pipeline="nope", items=[pb.Item(response="a")]).SerializeToString(),
    ]


def test_malformed_grpc_messages_are_invalid_argument_with_the_typed_detail(service):
    codes: collections.Counter = collections.Counter()
    with grpc.insecure_channel(service.grpc_target) as channel:
        raw = channel.unary_unary("/rewardgate.v1.RewardService/Score")  # bytes in, bytes out
        for _ in range(1000 // len(malformed_grpc_messages()) + 1):
            for message in malformed_grpc_messages():
                try:
                    raw(message, timeout=10)
                    codes["OK"] += 1
                except grpc.RpcError as exc:
                    codes[exc.code().name] += 1
                    assert exc.code() != grpc.StatusCode.UNKNOWN, exc.details()
                    trailers = dict(exc.trailing_metadata() or ())
                    assert "grpc-status-details-bin" in trailers, exc.details()
    assert codes["UNKNOWN"] == codes["INTERNAL"] == 0
    assert codes["INVALID_ARGUMENT"] >= 700
    print(f"malformed gRPC: {dict(codes)}")


def test_slow_headers_are_cut_off(service):
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as conn:
        conn.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 10:
            try:
                conn.sendall(b"X-Slow: 1\r\n")
                if conn.recv(1024, socket.MSG_DONTWAIT) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            time.sleep(0.2)
        assert closed, "a connection trickling headers was held open"


def test_a_connection_that_never_sends_a_byte_is_cut_off(service):
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as conn:
        try:
            closed = conn.recv(1024) == b""  # blocks until the server closes (or 10 s pass)
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
        assert closed, "a connection that sent nothing was held open"


def _trickles_until_closed(conn: socket.socket, seconds: float) -> bool:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            conn.sendall(b"X-Slow: 1\r\n")
            if conn.recv(65536, socket.MSG_DONTWAIT) == b"":
                return True
        except BlockingIOError:
            pass
        except OSError:
            return True
        time.sleep(0.2)
    return False


def _read_response(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (headers, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, "the connection closed before a reply"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "the connection closed within a reply"
        body += chunk
    return head


def test_slow_headers_of_a_later_request_on_a_kept_alive_connection_are_cut_off(service):
    body = b'{"pipeline": "exact", "items": [{"response": "a", "reference": "a"}]}'
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as conn:
        for _ in range(3):  # requests answered in time keep the connection open
            conn.sendall(
                b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            assert _read_response(conn).startswith(b"HTTP/1.1 200")
            time.sleep(0.7)  # idle, within the keep-alive timeout: not the header timer's business
        conn.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\n")
        assert _trickles_until_closed(conn, 10), "a later request trickling headers was held open"


# ---------------------------------------------------------------- drain


def test_sigterm_drains_http_and_grpc_then_exits_zero(tmp_path):
    """In-flight work on both transports finishes; new gRPC calls are refused at once; exit 0."""
    import threading

    from rewardgate_client.v1 import reward_pb2_grpc

    service = ServiceProcess(default_pipeline_file(), env={"REWARDGATE_CACHE_MAX_ENTRIES": "0"}).wait()
    slow = "import time\ndef add(a, b):\n    time.sleep(1.5)\n    return a + b\n"
    body = {"pipeline": "code", "items": [{"response": slow, "reference": "assert add(1, 2) == 3\n"}]}
    http_replies, grpc_replies, late = [], [], []

    def http_call():
        http_replies.append(httpx.post(service.url + "/v1/score", json=body, timeout=30))

    def grpc_call(sink):
        with grpc.insecure_channel(service.grpc_target) as channel:
            stub = reward_pb2_grpc.RewardServiceStub(channel)
            request = pb.ScoreRequest(
                pipeline="code", items=[pb.Item(response=slow, reference=body["items"][0]["reference"])]
            )
            try:
                sink.append(stub.Score(request, timeout=30).results[0].reward)
            except grpc.RpcError as exc:
                sink.append(exc.code())

    calls = [threading.Thread(target=http_call) for _ in range(2)]
    calls += [threading.Thread(target=grpc_call, args=(grpc_replies,)) for _ in range(2)]
    for call in calls:
        call.start()
    time.sleep(0.7)  # all four are running in the sandboxes
    service.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    grpc_call(late)  # arrives during the drain
    for call in calls:
        call.join(30)
    assert service.process.wait(30) == 0
    assert [r.status_code for r in http_replies] == [200, 200]
    assert all(r.json()["results"][0]["reward"] == 1.0 for r in http_replies)
    assert grpc_replies == [1.0, 1.0]
    assert late == [grpc.StatusCode.UNAVAILABLE]  # refused, not accepted and cut later
