"""The sandbox service as its own process, and a gateway that sends its code runs there.

Both are real subprocesses on real sockets (``rewardgate sandbox-serve``,
``rewardgate serve`` with ``REWARDGATE_SANDBOX_URL``). What is checked:
verdicts reached as locally, typed retryable errors when the service is
unreachable or full, the caller's deadline travelling with the run, and a
run killed when its caller goes away, its worker kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.sandbox import service_client
from rewardgate.sources.rule.sandbox.runner import IDLE_NAMES
from tests.support.server import REPO_ROOT, ServiceProcess, free_port

pytestmark = pytest.mark.slow

ADD = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"
SLEEPER = "import time\ndef add(a, b):\n    time.sleep(60)\n    return a + b\n"
LIMITS = {"timeout_s": 30, "memory_mb": 256, "output_kb": 64, "processes": 16, "tmpfs_mb": 16}
PIPELINES = """
rules:
  python_tests: {type: code_tests, timeout_s: 30}
pipelines:
  code:
    components:
      tests: {rule: python_tests}
    combine: {type: weighted_sum, weights: {tests: 1.0}}
"""


class SandboxService:
    """``rewardgate sandbox-serve`` on a free port."""

    def __init__(self, log_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **{f"REWARDGATE_SANDBOX_SERVICE_{k.upper()}": v for k, v in settings.items()}}
        env.pop("REWARDGATE_SANDBOX_URL", None)
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.log_path = log_path
        command = [sys.executable, "-m", "rewardgate", "sandbox-serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while not self.ready():
            assert self.process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the sandbox service never got ready"
            time.sleep(0.2)

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        for family in text_string_to_metric_families(httpx.get(self.url + "/metrics", timeout=10).text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return 0.0

    def run_processes(self) -> list[int]:
        """Processes of runs in progress under this service (its cells' prepared slots excluded)."""
        found, queue = [], [self.process.pid]
        while queue:
            for children in Path(f"/proc/{queue.pop()}/task").glob("*/children"):
                try:
                    pids = [int(pid) for pid in children.read_text().split()]
                except OSError:
                    continue
                queue += pids
                found += [pid for pid in pids if _running(pid)]
        return found

    def workers(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return {int(pid) for pid in children}

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        finally:
            self._log.close()


def _running(pid: int) -> bool:
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return name.startswith("rg-") and name not in IDLE_NAMES and state != "Z"


def wait_until(condition, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def run_body(source: str = ADD, tests: str = TESTS, **extra) -> dict:
    return {
        "mode": "tests",
        "source": source,
        "payload": {"kind": "tests", "tests": tests},
        "limits": LIMITS,
        **extra,
    }


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    service = SandboxService(tmp_path_factory.mktemp("sandbox") / "service.log", workers="2", max_queue="1")
    yield service
    assert service.stop() == 0  # SIGTERM: drained, a clean exit


@pytest.fixture
def offloaded(sandbox, monkeypatch):
    monkeypatch.setenv("REWARDGATE_SANDBOX_URL", sandbox.url)
    return build_rule("code_tests", {"timeout_s": 30, "memory_mb": 256, "max_processes": 16})


async def score(rule, solution: str, reference: str = TESTS, deadline_s: float = 60) -> float:
    return await rule.grade_offloaded(ScoringItem("", solution, reference), time.monotonic() + deadline_s)


async def test_runs_in_the_service_reach_the_same_verdicts_as_local_runs(offloaded):
    assert offloaded.offloaded
    stdio = '{"inputs": ["1 2", "2 2"], "outputs": ["3", "5"]}'
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    cases = [
        (ADD, TESTS),
        ("def add(a, b):\n    return a - b\n", TESTS),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n" + ADD, TESTS),  # its own failure
        ("import os\nos._exit(0)\n", TESTS),  # a forged early exit
        (program, stdio),
    ]
    scores = [await score(offloaded, solution, reference) for solution, reference in cases]
    assert scores == [1.0, 0.0, 0.0, 0.0, 0.5]
    local = [offloaded.grade(ScoringItem("", source, TESTS)) for source in (ADD, "def add(a, b): return 0\n")]
    assert local == [1.0, 0.0]


async def test_an_unreachable_service_is_a_retryable_error(monkeypatch):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("REWARDGATE_SANDBOX_URL", f"http://127.0.0.1:{closed.getsockname()[1]}")
        rule = build_rule("code_tests", {})
        with pytest.raises(service_client.SandboxUnavailable) as raised:
            await score(rule, ADD)
    assert raised.value.retryable and raised.value.error_type == "sandbox_unavailable"


async def test_a_full_queue_is_a_fast_retryable_refusal(sandbox, offloaded):
    # Two workers busy and one run waiting (max_queue 1): the next is refused at once.
    slow = [asyncio.create_task(score(offloaded, SLEEPER, deadline_s=3)) for _ in range(3)]
    await asyncio.to_thread(
        wait_until, lambda: sandbox.metric("rewardgate_sandbox_queued_runs") == 1, "no queue"
    )
    with pytest.raises(service_client.SandboxUnavailable, match="runs already wait") as raised:
        await score(offloaded, ADD)
    assert raised.value.retryable
    for task in slow:  # each ends at its 3 s deadline, as a retryable error
        with pytest.raises(service_client.SandboxUnavailable):
            await task


def test_the_deadline_travels_with_the_run_and_ends_it(sandbox):
    before = sandbox.metric("rewardgate_sandbox_runs_total", result="deadline_exceeded")
    reply = httpx.post(sandbox.url + "/v1/run", json=run_body(SLEEPER, deadline_ms=1500), timeout=30)
    assert reply.status_code == 504 and reply.json()["error"]["type"] == "deadline_exceeded"
    assert sandbox.metric("rewardgate_sandbox_runs_total", result="deadline_exceeded") == before + 1
    wait_until(lambda: not sandbox.run_processes(), "the run outlived its deadline")
    assert service_client.report_from_reply  # the gateway maps a 504 to sandbox_unavailable:
    with pytest.raises(service_client.SandboxUnavailable):
        service_client.report_from_reply(504, reply.json())


def test_a_caller_that_goes_away_gets_its_run_killed_and_the_worker_kept(sandbox):
    workers = sandbox.workers()
    before = sandbox.metric("rewardgate_sandbox_runs_total", result="cancelled")
    body = json.dumps(run_body(SLEEPER)).encode()
    head = f"POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", sandbox.port)) as caller:  # a caller that never reads
        caller.sendall(head.encode() + body)
        wait_until(lambda: sandbox.run_processes(), "the run never started")
    # The connection is closed: the service kills the run at once, not after its 60 s.
    wait_until(lambda: not sandbox.run_processes(), "the run outlived its caller")
    wait_until(
        lambda: sandbox.metric("rewardgate_sandbox_runs_total", result="cancelled") == before + 1, "uncounted"
    )
    assert sandbox.metric("rewardgate_sandbox_inflight_runs") == 0
    assert sandbox.workers() == workers


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error_type"),
    [
        ("POST", "/v1/run", b"{not json", 422, "invalid_input"),
        (
            "POST",
            "/v1/run",
            b'{"mode": "shell", "source": "", "payload": {}, "limits": {}}',
            422,
            "invalid_input",
        ),
        ("POST", "/v1/run", b"x" * (16 * 1024 * 1024 + 1), 413, "payload_too_large"),
        ("GET", "/v1/run", b"", 405, "method_not_allowed"),
        ("GET", "/nowhere", b"", 404, "not_found"),
    ],
)
def test_bad_requests_get_typed_errors(sandbox, method, path, body, status, error_type):
    reply = httpx.request(method, sandbox.url + path, content=body, timeout=30)
    assert reply.status_code == status and reply.json()["error"]["type"] == error_type


def test_a_gateway_sends_code_to_the_service_and_starts_no_cell_itself(sandbox, tmp_path):
    config = tmp_path / "pipelines.yaml"
    config.write_text(PIPELINES)
    gateway = ServiceProcess(
        config, env={"REWARDGATE_SANDBOX_URL": sandbox.url}, log_path=tmp_path / "gw.log"
    )
    try:
        gateway.wait()
        before = sandbox.metric("rewardgate_sandbox_runs_total", result="ok")
        items = [
            {"response": ADD, "reference": TESTS},
            {"response": "def add(a, b): return 0\n", "reference": TESTS},
        ]
        reply = httpx.post(gateway.url + "/v1/score", json={"pipeline": "code", "items": items}, timeout=60)
        assert [r["reward"] for r in reply.json()["results"]] == [1.0, 0.0]
        assert sandbox.metric("rewardgate_sandbox_runs_total", result="ok") == before + 2
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in descendants(gateway.process.pid)}
        assert "bwrap" not in names  # the gateway needs no user namespaces or cells of its own
        # The gateway's deadline reaches the service: a run still going when it passes is ended there.
        cancelled = sandbox.metric("rewardgate_sandbox_runs_total", result="cancelled")
        late = {
            "pipeline": "code",
            "items": [{"response": SLEEPER, "reference": TESTS}],
            "options": {"deadline_ms": 1500},
        }
        assert httpx.post(gateway.url + "/v1/score", json=late, timeout=60).status_code == 504
        wait_until(lambda: not sandbox.run_processes(), "the run outlived the gateway's deadline")
        ended = sandbox.metric("rewardgate_sandbox_runs_total", result="cancelled") - cancelled
        ended += sandbox.metric("rewardgate_sandbox_runs_total", result="deadline_exceeded")
        assert ended >= 1
    finally:
        gateway.stop()


def descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        for children in Path(f"/proc/{queue.pop()}/task").glob("*/children"):
            try:
                pids = [int(child) for child in children.read_text().split()]
            except OSError:
                continue
            found += pids
            queue += pids
    return found
