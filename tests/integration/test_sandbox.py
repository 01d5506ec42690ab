"""The code sandbox against escape attempts: each is contained and scored as failed tests."""

import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.code import count_passed
from rewardgate.sources.rule.code_cases import parse_reference
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.sandbox import runner
from rewardgate.sources.rule.sandbox.runner import SandboxLimits, run_session

pytestmark = pytest.mark.slow

LIMITS = SandboxLimits(timeout_s=3, memory_mb=256, output_kb=64, processes=16)
ADD = "def add(a, b):\n    return a + b\n"


def run(solution, reference="assert True\n", limits=LIMITS):
    """(passed, total, outcome) of ``solution`` against ``reference``."""
    plan = parse_reference(reference)
    started = time.monotonic()
    outcome = run_session(plan.mode, solution, plan.payload, limits)
    assert time.monotonic() - started < limits.timeout_s + 5, "the sandbox outlived its limits"
    return (*count_passed(plan, outcome), outcome)


def descendants(pid: int) -> list[int]:
    """Host pids of every process under ``pid``."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(child) for child in task.read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found


def idle(pid: int) -> bool:
    """A process of the cell itself or of the prepared next run."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return True
    return name in runner.IDLE_NAMES or not name.startswith("rg-")


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def no_process_left(timeout_s=5):
    """Only the cell (bubblewrap, its init, the fork server) and the next prepared run are left."""
    deadline = time.monotonic() + timeout_s
    while any(alive(pid) and not idle(pid) for pid in descendants(runner.fork_server().pid)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_pass_fraction_over_asserts_and_unittest():
    assert run(ADD, "assert add(1, 2) == 3\nassert add(2, 2) == 5\n")[:2] == (1, 2)
    unit = (
        "import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_a(self):\n        self.assertEqual(add(1, 1), 2)\n"
        "    def test_b(self):\n        self.assertEqual(add(1, 1), 3)\n"
        "    def test_c(self):\n        raise RuntimeError('boom')\n"
        "    def test_d(self):\n        self.assertRaises(TypeError, add, 1)\n"
    )
    assert run(ADD, unit)[:2] == (2, 4)


def test_humaneval_check_call_is_one_test():
    tests = (
        "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"
        "\ncheck(add)\n"
    )
    assert run(ADD, tests)[:2] == (1, 1)
    assert run("def add(a, b):\n    return 3\n", tests)[:2] == (0, 1)


def test_in_place_mutation_and_classes_cross_the_proxy():
    solution = (
        "def sort_in_place(xs):\n    xs.sort()\n"
        "class Counter:\n    def __init__(self):\n        self.n = 0\n"
        "    def bump(self):\n        self.n += 1\n        return self.n\n"
    )
    tests = (
        "xs = [3, 1, 2]\nsort_in_place(xs)\nassert xs == [1, 2, 3]\n"
        "c = Counter()\nc.bump()\nassert c.bump() == 2 and c.n == 2\n"
    )
    assert run(solution, tests)[:2] == (2, 2)


def test_stdio_cases_compare_whitespace_normalised_output():
    solution = "a, b = map(int, input().split())\nprint(a + b, ' ')\n"
    reference = '{"inputs": ["1 2\\n", "3 4\\n", "5 5\\n"], "outputs": ["3\\n", "7", "11"]}'
    assert run(solution, reference)[:2] == (2, 3)


def test_call_based_cases_and_leetcode_classes():
    reference = '{"fn_name": "add", "inputs": [[1, 2], [2, 2], [0, 0]], "outputs": [[3], 4, [1]]}'
    assert run(ADD, reference)[:2] == (2, 3)
    leetcode = "class Solution:\n    def add(self, a, b):\n        return a + b\n"
    assert run(leetcode, reference)[:2] == (2, 3)


def test_broken_solution_fails_every_test_but_is_not_a_sandbox_error():
    assert run("def add(a, b) return", "assert add(1, 2) == 3\n")[:2] == (0, 1)


def test_infinite_loop_at_import_fails_within_the_budget():
    passed, total, _ = run("while True:\n    pass\n", "assert True\nassert 1\n")
    assert (passed, total) == (0, 2)


def test_partial_passes_survive_a_hang_in_the_tests():
    tests = "assert add(1, 1) == 2\nassert add(1, 2) == 3\nwhile True:\n    pass\nassert False\n"
    passed, total, _ = run(ADD, tests)
    assert (passed, total) == (2, 3)  # stopped by the CPU limit or the wall clock


def test_one_budget_for_all_cases():
    solution = "import time\ndef add(a, b):\n    time.sleep(1)\n    return a + b\n"
    tests = "".join("assert add(1, 1) == 2\n" for _ in range(6))
    started = time.monotonic()
    passed, total, _ = run(solution, tests, SandboxLimits(timeout_s=2.5, memory_mb=256))
    assert total == 6 and passed == 2
    assert time.monotonic() - started < 4


def test_fork_bomb_is_contained_and_cleaned_up():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    assert run(bomb)[:2] == (0, 1)
    assert no_process_left()


def test_setsid_escapees_are_killed_too():
    escape = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
        "def add(a, b): return a + b\n"
    )
    assert run(escape, "assert add(1, 1) == 2\n")[:2] == (1, 1)
    assert no_process_left()


def test_memory_bomb_hits_the_address_space_limit():
    bomb = "blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))\n"
    assert run(bomb, "assert True\n")[:2] == (1, 1)  # MemoryError stopped the solution, not us


def test_huge_stdout_is_capped():
    flood = "while True:\n    print('x' * 1000)\n"
    passed, total, outcome = run(flood, '{"inputs": [""], "outputs": ["x"]}')
    assert (passed, total) == (0, 1)
    assert outcome.records[0]["case"]["output_limit"] is True


def test_no_network():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = (
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    reached = True\nexcept OSError:\n    reached = False\n"
        )
        assert run(probe, "assert not reached\n")[:2] == (1, 1)


def test_no_host_unix_sockets_and_no_host_processes(tmp_path):
    path = tmp_path / "host.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        path.chmod(0o777)
        tmp_path.chmod(0o755)
        server.listen()
        probe = (
            "import os, socket\n"
            "def reach():\n    s = socket.socket(socket.AF_UNIX)\n"
            f"    try:\n        s.connect({str(path)!r})\n"
            "        return True\n    except OSError:\n        return False\n"
            "def processes():\n    return os.path.exists('/proc')\n"
            "def run_listing():\n    return os.path.exists('/run')\n"
        )
        tests = "assert reach() is False\nassert run_listing() is False\nassert processes() is False\n"
        assert run(probe, tests)[:2] == (3, 3)


def test_writes_outside_the_work_directory_do_not_land(tmp_path):
    # Only ever aimed at a directory this test made (open to everyone, so only the sandbox stops it).
    decoy = tmp_path / "decoy"
    decoy.mkdir(mode=0o777)
    decoy.chmod(0o777)
    tmp_path.chmod(0o755)
    marker = f"rewardgate-escape-{uuid.uuid4().hex}"
    attempt = (
        f"open('/tmp/{marker}', 'w').write('x')\n"
        f"try:\n    open({str(decoy / 'owned')!r}, 'w').write('x')\n    landed = True\n"
        "except OSError:\n    landed = False\n"
    )
    assert run(attempt, "assert not landed\n")[:2] == (1, 1)
    assert not Path(f"/tmp/{marker}").exists() and not list(decoy.iterdir())


def test_other_processes_cannot_be_killed():
    victim = subprocess.Popen(["sleep", "60"])
    try:
        attack = (
            f"import os, signal\ntry:\n    os.kill({victim.pid}, signal.SIGKILL)\n    hit = True\n"
            "except OSError:\n    hit = False\n"
        )
        assert run(attack, "assert not hit\n")[:2] == (1, 1)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_code_rule_extracts_fenced_code_and_scores_the_pass_fraction():
    rule = build_rule("code_tests", {"timeout_s": 3})
    response = f"Here is my solution:\n```python\n{ADD}```\nIt adds."
    assert rule.grade(ScoringItem("", response, "assert add(1, 2) == 3\nassert add(0, 1) == 2\n")) == 0.5


@pytest.mark.parametrize(
    "reference",
    [
        "x = 1\n",
        "def check(c):\n    pass\n",
        "this is not python (",
        '{"inputs": [], "outputs": []}',
        '{"inputs": ["1"], "outputs": ["1", "2"]}',
        '{"fn_name": "not valid", "inputs": [[1]], "outputs": [1]}',
    ],
)
def test_code_rule_refuses_a_reference_without_usable_tests(reference):
    rule = build_rule("code_tests", {"timeout_s": 3})
    with pytest.raises(InvalidReference):
        rule.grade(ScoringItem("", ADD, reference))


def test_a_sandbox_that_cannot_start_is_a_sandbox_error_not_a_score(monkeypatch):
    # A fork server that dies at once stands for a broken sandbox host.
    monkeypatch.setattr(runner.forkserver.cell, "bwrap_path", lambda: "/bin/false")
    monkeypatch.setattr(runner, "_forkserver", runner.forkserver.ForkServer())
    with pytest.raises(runner.SandboxError, match="fork server"):
        run_session("tests", ADD, {"kind": "tests", "tests": "assert add(1, 2) == 3\n"}, LIMITS)


def test_a_dead_fork_server_is_restarted():
    run(ADD, "assert add(1, 2) == 3\n")
    runner.fork_server()._process.kill()
    runner.fork_server()._process.wait()
    assert run(ADD, "assert add(1, 2) == 3\n")[:2] == (1, 1)


def test_running_into_the_cpu_hard_limit_is_a_verdict():
    # Threads hashing large buffers release the GIL, so CPU time outruns the wall clock and
    # the kernel's own SIGKILL at the hard limit comes first: that is the code's doing.
    burn = (
        "import hashlib, signal, threading\n"
        "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
        "data = b'x' * 8_000_000\n"
        "def spin():\n    while True:\n        hashlib.sha256(data).digest()\n"
        "for _ in range(4):\n    threading.Thread(target=spin, daemon=True).start()\n"
        "spin()\n"
    )
    limits = SandboxLimits(timeout_s=6, memory_mb=512)
    passed, total, _ = run(burn, '{"inputs": [""], "outputs": ["3"]}', limits)
    assert (passed, total) == (0, 1)


@pytest.mark.parametrize(
    "reference", ['{"inputs": [""], "outputs": [""]}', "assert True\n"], ids=["stdio", "examined"]
)
def test_a_sandbox_process_that_cannot_be_set_up_is_an_error_not_a_score(reference):
    # An impossible tmpfs size makes the mount fail in each prepared process, before any code
    # exists. A stdio case expecting no output would otherwise pass on the child's clean exit.
    with pytest.raises(runner.SandboxError) as raised:
        run("print()\n", reference, SandboxLimits(timeout_s=3, memory_mb=256, tmpfs_mb=-5))
    # No candidate code existed yet: the service's failure, typed and retryable (reward-algebra.md#failures).
    assert "could not prepare the run" in str(raised.value) and raised.value.retryable
