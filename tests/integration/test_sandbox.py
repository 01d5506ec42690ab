"""The code sandbox against escape attempts: each is contained and reported as a verdict."""

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from service.errors import InvalidReference
from service.items import ScoringItem
from service.rules.registry import build_rule
from service.sandbox.runner import SandboxLimits, live_processes, run_tests, sandbox_uid

pytestmark = pytest.mark.slow

LIMITS = SandboxLimits(timeout_s=3, memory_mb=256, output_kb=64, processes=16)
AS_ROOT = os.geteuid() == 0
ADD = "def add(a, b):\n    return a + b\n"


def run(solution, tests="assert True\n", limits=LIMITS):
    started = time.monotonic()
    result = run_tests(solution, tests, limits)
    assert time.monotonic() - started < limits.timeout_s + 10, "the sandbox outlived its limits"
    return result


def no_process_left(uid, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while live_processes(uid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_pass_fraction_over_asserts_and_unittest():
    assert run(ADD, "assert add(1, 2) == 3\nassert add(2, 2) == 5\n").pass_fraction == 0.5
    unit = (
        "import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_a(self):\n        self.assertEqual(add(1, 1), 2)\n"
        "    def test_b(self):\n        self.assertEqual(add(1, 1), 3)\n"
        "    def test_c(self):\n        raise RuntimeError('boom')\n"
    )
    result = run(ADD, unit)
    assert (result.verdict, result.passed, result.total) == ("ok", 1, 3)


def test_broken_solution_fails_every_test_but_is_not_a_sandbox_error():
    result = run("def add(a, b) return", "assert add(1, 2) == 3\n")
    assert (result.verdict, result.passed, result.total) == ("ok", 0, 1)


def test_infinite_loop_is_killed_at_the_wall_clock():
    result = run("while True:\n    pass\n", "assert True\n")
    assert result.verdict in ("timeout", "cpu_limit")


def test_partial_passes_survive_a_hang():
    result = run(ADD, "assert add(1, 1) == 2\nassert add(1, 2) == 3\nwhile True:\n    pass\nassert False\n")
    assert result.verdict in ("timeout", "cpu_limit")
    assert result.passed == 2


def test_fork_bomb_is_contained_and_cleaned_up():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = run(bomb)
    assert result.verdict in ("timeout", "cpu_limit", "crashed")
    if AS_ROOT:
        assert no_process_left(sandbox_uid())


def test_setsid_escapees_are_killed_too():
    escape = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
    run(escape)
    if AS_ROOT:
        assert no_process_left(sandbox_uid())


def test_memory_bomb_hits_the_address_space_limit():
    bomb = "blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))\n"
    result = run(bomb, "assert True\n")
    assert result.verdict == "ok" and result.passed == 1  # MemoryError stopped the solution, not us


def test_huge_stdout_is_capped():
    # Python ignores SIGXFSZ, so the capped write raises EFBIG inside the solution.
    result = run("while True:\n    print('x' * 1000)\n")
    assert result.verdict in ("ok", "output_limit")
    assert "File too large" in result.stderr_tail or result.verdict == "output_limit"


@pytest.mark.skipif(not AS_ROOT, reason="network isolation needs a network namespace (root)")
def test_no_network():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = (
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    reached = True\nexcept OSError:\n    reached = False\n"
        )
        assert run(probe, "assert reached\n").passed == 0


@pytest.mark.skipif(not AS_ROOT, reason="a private /tmp and a foreign uid need root")
def test_writes_outside_the_work_directory_do_not_land():
    marker = f"rewardgate-escape-{uuid.uuid4().hex}"
    attempt = (
        f"open('/tmp/{marker}', 'w').write('x')\n"
        "try:\n    open('/root/owned', 'w').write('x')\n    root_ok = True\n"
        "except OSError:\n    root_ok = False\n"
    )
    result = run(attempt, "assert not root_ok\n")
    assert result.passed == 1
    assert not Path(f"/tmp/{marker}").exists() and not Path("/root/owned").exists()


@pytest.mark.skipif(not AS_ROOT, reason="a foreign uid needs root")
def test_other_processes_cannot_be_killed():
    victim = subprocess.Popen(["sleep", "60"])
    try:
        attack = (
            f"import os, signal\ntry:\n    os.kill({victim.pid}, signal.SIGKILL)\n    hit = True\n"
            "except OSError:\n    hit = False\n"
        )
        assert run(attack, "assert not hit\n").passed == 1
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_code_rule_extracts_fenced_code_and_scores_the_pass_fraction():
    rule = build_rule("code_tests", {"timeout_s": 3})
    response = f"Here is my solution:\n```python\n{ADD}```\nIt adds."
    assert rule.evaluate(ScoringItem("", response, "assert add(1, 2) == 3\nassert add(0, 1) == 2\n")) == 0.5


def test_code_rule_refuses_a_reference_without_tests():
    rule = build_rule("code_tests", {"timeout_s": 3})
    with pytest.raises(InvalidReference, match="no assert"):
        rule.evaluate(ScoringItem("", ADD, "x = 1\n"))


def test_a_sandbox_that_cannot_start_is_a_sandbox_error_not_a_score(monkeypatch):
    from service.sandbox import runner

    # A launcher that dies before reporting anything stands for a broken sandbox host.
    monkeypatch.setattr(runner, "LAUNCHER", Path("/nonexistent/launcher.py"))
    with pytest.raises(runner.SandboxError, match="sandbox failed"):
        run_tests(ADD, "assert add(1, 2) == 3\n", LIMITS)
