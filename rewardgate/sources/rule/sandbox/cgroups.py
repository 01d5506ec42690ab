"""Per-run cgroup limits: memory, CPU and processes of a whole run, inside a shared budget.

Layout (created on first use, by the verifier process that runs sandboxes)::

    <budget>/                 the sandbox budget: every run of this service together
        run-<verifier pid>/   the run of one verifier process (one run at a time), reused

A run's cgroup caps the memory of all its processes together (the candidate's
memory bomb is killed by the kernel inside it: the candidate's failure), its
CPU (a quota of one CPU, and an equal weight, so a run with many threads gets
no more than a run with one) and its process count. The budget caps them all
together; an OOM kill that the *budget* caused (its OOM count rose while the
run's own limit was never reached) is evidence no candidate can produce that
the infrastructure failed the run.

cgroup v2 is used where the service finds a writable, delegated subtree
(``REWARDGATE_SANDBOX_CGROUP``: a cgroup directory whose ``cgroup.subtree_control``
enables memory, pids and cpu); cgroup v1 where its memory, pids and cpu
hierarchies are writable (root); otherwise none (:func:`detect` returns None)
and the per-process rlimits are the only limits (docs/rules.md#code).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "pids", "cpu")
_PERIOD_US = 100_000


@dataclass(frozen=True)
class RunEvidence:
    """What the cgroups saw during one run."""

    own_limit_hit: bool
    budget_oom_kills: int


class RunCgroup:
    """The reusable cgroup(s) of one verifier process's runs."""

    def __init__(self, version: int, run_dirs: dict[str, Path], budget_dirs: dict[str, Path]) -> None:
        self.version = version
        self.run_dirs = run_dirs
        self.budget_dirs = budget_dirs
        self._budget_kills = 0
        self._own_events = 0

    def _read(self, directory: Path, name: str) -> str:
        try:
            return (directory / name).read_text()
        except OSError:
            return ""

    def _memory_counters(self) -> tuple[int, int]:
        """(events of the run's own memory limit, OOM kills the budget caused)."""
        if self.version == 2:
            own = _field(self._read(self.run_dirs["unified"], "memory.events"), "max")
            budget = _field(self._read(self.budget_dirs["unified"], "memory.events.local"), "oom_kill")
            return own, budget
        own = int(self._read(self.run_dirs["memory"], "memory.failcnt") or 0)
        budget = _field(self._read(self.budget_dirs["memory"], "memory.oom_control"), "oom_kill")
        return own, budget

    def configure(self, memory_mb: int, processes: int) -> None:
        """Set this run's limits (before the run's first process joins)."""
        memory = str(memory_mb * 1024 * 1024)
        if self.version == 2:
            directory = self.run_dirs["unified"]
            _write(directory / "memory.max", memory)
            _write(directory / "memory.swap.max", "0", required=False)
            _write(directory / "pids.max", str(processes))
            _write(directory / "cpu.max", f"{_PERIOD_US} {_PERIOD_US}")
        else:
            _set_v1_memory(self.run_dirs["memory"], memory)
            _write(self.run_dirs["pids"] / "pids.max", str(processes))
            _write(self.run_dirs["cpu"] / "cpu.cfs_period_us", str(_PERIOD_US))
            _write(self.run_dirs["cpu"] / "cpu.cfs_quota_us", str(_PERIOD_US))
        self._own_events, self._budget_kills = self._memory_counters()

    def join(self, pid: int) -> None:
        """Move ``pid`` (a run's first process, before it forks) into this run's cgroup(s)."""
        for directory in self.run_dirs.values():
            _write(directory / "cgroup.procs", str(pid))

    def evidence(self) -> RunEvidence:
        own, budget = self._memory_counters()
        return RunEvidence(own_limit_hit=own > self._own_events, budget_oom_kills=budget - self._budget_kills)

    def settle(self, resident: int, timeout_s: float = 2.0) -> bool:
        """Wait until no more than ``resident`` processes are left (the previous run's die asynchronously)."""
        deadline = time.monotonic() + timeout_s
        directory = next(iter(self.run_dirs.values()))
        while len(self._read(directory, "cgroup.procs").split()) > resident:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True


def _set_v1_memory(directory: Path, memory: str) -> None:
    """v1 keeps memory <= memory+swap at every step: which to write first depends on the direction."""
    swap = directory / "memory.memsw.limit_in_bytes"
    try:
        _write(directory / "memory.limit_in_bytes", memory)
    except OSError:  # raising above the memory+swap limit: that one first
        _write(swap, memory, required=False)
        _write(directory / "memory.limit_in_bytes", memory)
    _write(swap, memory, required=False)


def _field(text: str, name: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0


def _write(path: Path, value: str, required: bool = True) -> None:
    try:
        path.write_text(value)
    except OSError:
        if required:
            raise


def detect(budget_memory_mb: int, name: str = "rewardgate-sandbox") -> RunCgroup | None:
    """This process's run cgroup under the service's budget, or None where cgroups cannot be used."""
    delegated = os.environ.get("REWARDGATE_SANDBOX_CGROUP")
    with contextlib.suppress(OSError):
        if delegated:
            return _v2(Path(delegated), budget_memory_mb)
        if os.geteuid() == 0 and all(os.access(V1_ROOT / c, os.W_OK) for c in _V1_CONTROLLERS):
            return _v1(name, budget_memory_mb)
    return None


def _remove_stale(budget: Path) -> None:
    """Run cgroups of verifier processes that are gone (rmdir fails on a busy one)."""
    for run in budget.glob("run-*"):
        if not Path(f"/proc/{run.name[4:]}").exists():
            with contextlib.suppress(OSError):
                run.rmdir()


def _v2(budget: Path, budget_memory_mb: int) -> RunCgroup:
    _remove_stale(budget)
    run = budget / f"run-{os.getpid()}"
    run.mkdir(exist_ok=True)
    if budget_memory_mb:
        _write(budget / "memory.max", str(budget_memory_mb * 1024 * 1024), required=False)
    return RunCgroup(2, {"unified": run}, {"unified": budget})


def _v1(name: str, budget_memory_mb: int) -> RunCgroup:
    runs, budgets = {}, {}
    for controller in _V1_CONTROLLERS:
        budget = V1_ROOT / controller / name
        budget.mkdir(exist_ok=True)
        if controller == "memory" and budget_memory_mb:
            _write(budget / "memory.limit_in_bytes", str(budget_memory_mb * 1024 * 1024))
        _remove_stale(budget)
        run = budget / f"run-{os.getpid()}"
        run.mkdir(exist_ok=True)
        runs[controller], budgets[controller] = run, budget
    return RunCgroup(1, runs, budgets)


def remove(cgroup: RunCgroup) -> None:
    """Remove this process's run cgroup(s) (at exit; they must be empty)."""
    for directory in cgroup.run_dirs.values():
        with contextlib.suppress(OSError):
            directory.rmdir()
