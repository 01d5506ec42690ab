"""Red team for the code sandbox: escapes (class 1), dodging a failure with an
"infrastructure" error (class 2), and aggregate limits (class 5).

Escape attempts only ever aim at a throwaway directory each test creates; the
assertion is that it is untouched. Every attack ends as a score (the failed
solution's reward) or, where the attack should not matter, the honest score.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import threading
import time

import pytest

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import warm_up_rules
from rewardgate.sources.rule.code import count_passed
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.sandbox import cgroups, forkserver, runner

pytestmark = pytest.mark.slow

ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"
RULE = build_rule("code_tests", {"timeout_s": 4, "memory_mb": 256, "max_processes": 16})


def score(solution: str, reference: str = ADD_TESTS, rule=RULE) -> float:
    return rule.grade(ScoringItem("", solution, reference))


def snapshot(directory) -> list:
    """Everything about a directory tree an escape could change."""
    found = []
    for root, dirs, files in os.walk(directory):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            info = os.lstat(name)
            found.append((name, info.st_uid, info.st_gid, info.st_mode, info.st_size, info.st_mtime_ns))
    return sorted(found)


@pytest.fixture
def decoy(tmp_path):
    """A throwaway host directory with a file in it, owned by the test."""
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "file.txt").write_text("original")
    return tmp_path / "victim"


# --- class 1: escape to the host -------------------------------------------------------------


@pytest.mark.parametrize("link", ["/tmp/examiner", "/tmp/candidate", "/tmp", "/tmp/work/x"])
def test_symlinks_planted_in_tmp_reach_no_host_directory(decoy, link):
    before = snapshot(decoy)
    plant = (
        "import os\n"
        f"for target in ({str(decoy)!r}, {str(decoy / 'file.txt')!r}):\n"
        "    try:\n"
        f"        os.makedirs(os.path.dirname({link!r}), exist_ok=True)\n"
        f"        os.symlink(target, {link!r})\n"
        "    except OSError:\n        pass\n"
        f"try:\n    open({link!r} + '/owned', 'w').write('x')\nexcept OSError:\n    pass\n" + ADD
    )
    # examined (candidate then examiner) and stdio (one fresh process per case, several cases)
    assert score(plant) == 1.0
    stdio = '{"inputs": ["", "", ""], "outputs": ["ok", "ok", "ok"]}'
    assert score(plant + "print('ok')\n", stdio) == 1.0
    assert snapshot(decoy) == before


def test_each_sandbox_process_starts_in_a_fresh_private_tmp():
    # Case 1 leaves files and links behind; case 2 must see an empty /tmp of its own.
    program = (
        "import os\nprint(sorted(os.listdir('/tmp')))\n"
        "open('/tmp/left', 'w').write('x')\nos.symlink('/sandbox', '/tmp/link')\n"
    )
    assert score(program, '{"inputs": ["", ""], "outputs": ["[]", "[]"]}') == 1.0
    # The examiner's folder is another mount: the candidate's files are not in it.
    examined = "import os\nopen('/tmp/planted', 'w').write('x')\n" + ADD
    tests = "import os\nassert os.listdir('/tmp') == []\nassert add(1, 1) == 2\n"
    assert score(examined, tests) == 1.0


def test_the_root_filesystem_is_read_only_and_shows_no_host_folder(decoy):
    probe = (
        "import os\n"
        "def writable(path):\n"
        "    try:\n        open(path, 'w').close()\n        return True\n"
        "    except OSError:\n        return False\n"
        f"def visible():\n    return os.path.exists({str(decoy)!r})\n"
        "def listing():\n    return sorted(os.listdir('/'))\n"
    )
    tests = (
        "assert not writable('/x')\nassert not writable('/sandbox/zygote.py')\n"
        "assert not writable('/dev/x')\n"
        "assert not visible()\nassert 'proc' not in listing() and 'etc' not in listing()\n"
    )
    assert score(probe, tests) == 1.0


# Machine code run through ctypes from an executable page: getpid through the 32-bit
# ``int 0x80`` ABI, and through the x32 ABI (syscall number with bit 30 set).
FOREIGN_ABI = '''
import ctypes, mmap, os, signal
CODE = {
    "int80": bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3]),
    "x32": bytes([0xB8, 39, 0, 0, 0x40, 0x0F, 0x05, 0xC3]),
}
def foreign(kind):
    """How a child that makes one foreign-ABI syscall ends: its signal, else its exit code + 1000."""
    pid = os.fork()
    if pid == 0:
        page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(CODE[kind])
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        ctypes.CFUNCTYPE(ctypes.c_long)(address)()
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else 1000 + os.WEXITSTATUS(status)
'''


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="x86-64 ABIs")
def test_int80_and_x32_syscalls_kill_the_process():
    tests = (
        f"assert foreign('int80') == {int(signal.SIGSYS)}\nassert foreign('x32') == {int(signal.SIGSYS)}\n"
    )
    assert score(FOREIGN_ABI, tests) == 1.0


def test_privileged_and_cross_process_syscalls_are_denied():
    probe = (
        "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "def fails(result):\n    return result == -1 and ctypes.get_errno() == errno.EPERM\n"
        "def mount():\n    return fails(libc.mount(b'tmpfs', b'/tmp', b'tmpfs', 0, None))\n"
        "def unshare():\n    return fails(libc.unshare(0x10000000))\n"
        "def ptrace():\n    return fails(libc.ptrace(16, 1, 0, 0))\n"
        "def caps():\n    data = (ctypes.c_uint32 * 6)()\n"
        "    libc.capget(ctypes.byref((ctypes.c_uint32 * 2)(0x20080522, 0)), data)\n    return list(data)\n"
    )
    tests = "assert mount()\nassert unshare()\nassert ptrace()\nassert caps() == [0] * 6\n"
    assert score(probe, tests) == 1.0


# --- class 2: a failure is never an "infrastructure" error --------------------------------------

SELF_KILLS = {
    "sigkill self": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "sigkill group": "import os, signal\nos.killpg(0, signal.SIGKILL)\n",
    "sigkill everyone": "import os, signal\nos.kill(-1, signal.SIGKILL)\n",
    "thread kill": "import signal, threading\nsignal.pthread_kill(threading.get_ident(), signal.SIGKILL)\n",
    "abort": "import os\nos.abort()\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
    "exit 137": "import os\nos._exit(137)\n",
    "foreign abi": FOREIGN_ABI.replace("os._exit(7)", "os._exit(7)\n    ")
    + "\nimport os\nos.kill(os.getpid(), 9)\n",
}


@pytest.mark.parametrize("attack", list(SELF_KILLS.values()), ids=list(SELF_KILLS))
@pytest.mark.parametrize("place", ["import", "call"])
def test_a_candidate_that_kills_itself_gets_the_failed_score(attack, place):
    if place == "import":
        solution = attack + ADD
    else:
        body = "\n".join("    " + line for line in attack.splitlines())
        solution = f"def add(a, b):\n{body}\n    return a + b\n"
    assert score(solution) == 0.0  # a number, never sandbox_killed or sandbox_error


def test_a_self_kill_in_stdio_mode_is_a_failed_case():
    program = (
        "import os, signal\nif input() == 'die':\n    os.kill(os.getpid(), signal.SIGKILL)\nprint('ok')\n"
    )
    assert score(program, '{"inputs": ["live", "die"], "outputs": ["ok", "ok"]}') == 0.5


def test_signals_at_the_runs_init_change_nothing():
    # PID 1 of the run has no handler a process of the run could trigger: it cannot be made to
    # report a set-up failure (an error instead of a score) after the code started.
    signals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT", "SIGSTOP", "SIGKILL"]
    attack = f"import os, signal\nfor name in {signals!r}:\n    os.kill(1, getattr(signal, name))\n"
    assert score(attack + ADD) == 1.0
    assert score(attack + "def add(a, b):\n    return 0\n") == 0.0


def test_a_process_bomb_cannot_keep_the_examiner_from_running():
    # The candidate fills its process limit at import; the examiner has its own and still runs.
    hog = (
        "import os, time\nfor _ in range(64):\n    try:\n        if os.fork() == 0:\n"
        "            time.sleep(30)\n    except OSError:\n        break\n"
    )
    assert score(hog + ADD) == 1.0
    assert score(hog + "def add(a, b):\n    return 0\n") == 0.0


def test_a_cell_killed_during_the_run_is_a_retryable_error():
    sleeper = "import time\ndef add(a, b):\n    time.sleep(2)\n    return a + b\n"
    score(ADD)  # the cell is up

    def kill_cell():
        time.sleep(0.5)
        runner.fork_server()._process.kill()

    killer = threading.Thread(target=kill_cell)
    killer.start()
    try:
        with pytest.raises(runner.SandboxKilled) as raised:
            score(sleeper)
    finally:
        killer.join()
    assert raised.value.retryable
    assert score(ADD) == 1.0  # and the next item gets a new cell


# --- class 5: aggregate limits -------------------------------------------------------------------

needs_cgroups = pytest.mark.skipif(
    runner.run_cgroup(runner.SandboxLimits()) is None, reason="no writable cgroup hierarchy here"
)


@needs_cgroups
def test_memory_spread_over_processes_is_capped_for_the_whole_run():
    # 8 children of 120 MB each stay under the per-process limit but not under the run's.
    spread = (
        "import os, time\npids = []\n"
        "for _ in range(8):\n    pid = os.fork()\n    if pid == 0:\n"
        "        try:\n            block = b'x' * (120 * 1024 * 1024)\n            time.sleep(5)\n"
        "        finally:\n            os._exit(0)\n"
        "    pids.append(pid)\n"
        "time.sleep(2)\nstatuses = [os.waitpid(p, os.WNOHANG)[1] for p in pids]\n"
        "killed = sum(os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9 for s in statuses)\n"
    )
    tests = "assert killed >= 1\n"  # the run's cgroup OOM-killed some of them
    assert score(spread, tests) == 1.0


@needs_cgroups
def test_memory_pressure_from_many_small_processes_is_the_candidates_failure():
    # Twelve 40 MB processes overrun the run's memory: the OOM killer takes the run's processes,
    # never the cell; whichever it takes, the ending is the candidate's failure, never an error.
    pressure = (
        "import os, time\nfor _ in range(12):\n    if os.fork() == 0:\n"
        "        try:\n            block = b'x' * (40 * 1024 * 1024)\n            time.sleep(5)\n"
        "        finally:\n            os._exit(0)\n"
        "time.sleep(1.5)\n"
    )
    cell = runner.fork_server().pid
    assert score(pressure + "def add(a, b):\n    return 0\n") == 0.0
    assert score(pressure + ADD) in (0.0, 0.5, 1.0)  # a score either way, never an error
    assert runner.fork_server().pid == cell


@needs_cgroups
def test_an_oom_kill_by_the_sandbox_budget_is_a_retryable_error(monkeypatch):
    # This run may use 1 GB, but the budget of all runs is 200 MB: the budget's OOM killer ends
    # the run inside its own limit, which no candidate can make happen to itself.
    budget = f"rewardgate-sandbox-test-{os.getpid()}"
    cgroup = cgroups.detect(200, name=budget)
    server = forkserver.ForkServer(on_start=runner._join_cgroup)
    monkeypatch.setattr(runner, "_cgroup", cgroup)
    monkeypatch.setattr(runner, "_forkserver", server)
    rule = build_rule("code_tests", {"timeout_s": 4, "memory_mb": 1024})
    try:
        with pytest.raises(runner.SandboxKilled, match="OOM killer") as raised:
            score("block = b'x' * (300 * 1024 * 1024)\n" + ADD, rule=rule)
        assert raised.value.retryable
        assert score(ADD, rule=rule) == 1.0  # the next run in the same budget is unaffected
    finally:
        server._stop()
        remove_cgroups(cgroup)


def remove_cgroups(cgroup) -> None:
    """The test's run and budget cgroups, once the cell's processes have left them."""
    deadline = time.monotonic() + 10
    for directory in [*cgroup.run_dirs.values(), *cgroup.budget_dirs.values()]:
        while directory.exists():
            try:
                directory.rmdir()
            except OSError:
                assert time.monotonic() < deadline, f"{directory} stayed busy"
                time.sleep(0.05)


@needs_cgroups
def test_a_cpu_hog_gets_one_cpu_however_many_threads_it_runs():
    hog = (
        "import hashlib, resource, threading, time\n"
        "def burn(seconds):\n"
        "    data = b'x' * 4_000_000\n    end = time.monotonic() + seconds\n"
        "    def spin():\n        while time.monotonic() < end:\n            hashlib.sha256(data).digest()\n"
        "    threads = [threading.Thread(target=spin) for _ in range(4)]\n"
        "    started = time.monotonic()\n    [t.start() for t in threads]\n    [t.join() for t in threads]\n"
        "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    return (usage.ru_utime + usage.ru_stime) / (time.monotonic() - started)\n"
    )
    reference = '{"fn_name": "burn", "inputs": [[1.5]], "outputs": [0]}'
    from rewardgate.sources.rule.code_cases import parse_reference

    plan = parse_reference(reference)
    outcome = runner.run_session(plan.mode, hog, plan.payload, runner.SandboxLimits(timeout_s=6))
    (record,) = [r for r in outcome.records if "value" in r]
    assert record["value"] <= 1.3  # CPU seconds per wall second: one CPU's quota, not four threads' worth


def test_what_a_run_reports_is_bounded_on_the_host(monkeypatch):
    # The host holds every record of a run, and a record holds what the code returned: past the
    # cap (8 MB here, 64 MB as shipped) it stops reading, and the tests not reported fail.
    from rewardgate.sources.rule.code_cases import parse_reference

    monkeypatch.setattr(runner, "_MAX_REPORT_BYTES", 8 * 1024 * 1024)
    inputs, outputs = [[n] for n in range(10)], ["x" * 1_000_000] * 10
    plan = parse_reference(json.dumps({"fn_name": "f", "inputs": inputs, "outputs": outputs}))
    huge = "def f(n):\n    return 'x' * 1_000_000\n"
    outcome = runner.run_session(plan.mode, huge, plan.payload, runner.SandboxLimits(timeout_s=20))
    values = [r for r in outcome.records if "value" in r]
    assert 0 < len(values) < 10 and not outcome.ended  # right answers, cut at the cap
    assert count_passed(plan, outcome) == (len(values), 10)


def test_a_time_bomb_does_not_make_the_next_item_wait_for_a_new_cell():
    score(ADD)
    cell = runner.fork_server().pid
    assert (
        score("while True:\n    pass\n", "assert True\n", build_rule("code_tests", {"timeout_s": 1})) == 0.0
    )
    assert score(ADD) == 1.0
    assert runner.fork_server().pid == cell  # the run was killed, the cell kept


def test_bombs_are_their_own_items_failure_while_siblings_score():
    bombs = [
        "blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))\n",  # memory
        # processes
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "while True:\n    pass\n",  # CPU
    ]
    rule = build_rule("code_tests", {"timeout_s": 3, "memory_mb": 256, "max_processes": 16})

    async def scenario():
        pool = VerifierPool(workers=2, initializer=functools.partial(warm_up_rules, (rule,)))
        try:
            await pool.warm()
            items = [ScoringItem("", bomb + ADD, ADD_TESTS) for bomb in bombs] + [
                ScoringItem("", ADD, ADD_TESTS) for _ in range(4)
            ]
            return await asyncio.gather(*(pool.run(rule.grade, item, timeout_s=60) for item in items))
        finally:
            pool.close()

    scores = asyncio.run(scenario())
    assert scores == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
