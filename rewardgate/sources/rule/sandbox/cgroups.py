"""Per-run cgroup limits: memory, CPU and processes of a whole run, inside a shared budget.

Layout (created on first use, by the verifier process that runs sandboxes)::

    <budget>/                 the sandbox budget: every run of this service together
        run-<verifier pid>/   the run of one verifier process (one run at a time), reused

A run's cgroup caps the memory of all its processes together (the candidate's
memory bomb is killed by the kernel inside it: the candidate's failure), its
CPU (a quota of one CPU, and an equal weight, so a run with many threads gets
no more than a run with one) and its process count. The budget caps them all
together. An OOM kill of a run's process while the run's own limit was never
reached (the budget's limit was, or the host ran out of memory) is evidence
no candidate can produce that the infrastructure failed the run. The kernel
counts an OOM kill in the victim's own cgroup whichever limit was hit, and a
limit hit in the cgroup whose limit it was, so both counts are the run's
(v1: ``memory.oom_control`` ``oom_kill`` and ``memory.failcnt``; v2:
``memory.events`` ``oom_kill`` and ``max``).

cgroup v2 is used where the service finds a writable, delegated subtree
(``REWARDGATE_SANDBOX_CGROUP``: a cgroup directory whose ``cgroup.subtree_control``
enables memory, pids and cpu); cgroup v1 where its memory, pids and cpu
hierarchies are writable (root); otherwise none (:func:`detect` returns None)
and the per-process rlimits are the only limits (docs/rules.md#code).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "pids", "cpu")
_PERIOD_US = 100_000
#: The default CPU weight of one task (v1 ``cpu.shares``, v2 ``cpu.weight``) and v2's maximum.
_V1_SHARES, _V2_WEIGHT, _V2_MAX_WEIGHT = 1024, 100, 10_000


@dataclass(frozen=True)
class RunEvidence:
    """What the run's cgroup saw during one run."""

    own_limit_hit: bool
    oom_kills: int

    @property
    def killed_for_others(self) -> bool:
        """The OOM killer ended a process of the run although the run stayed within its own limit."""
        return self.oom_kills > 0 and not self.own_limit_hit


class RunCgroup:
    """The reusable cgroup(s) of one verifier process's runs."""

    def __init__(self, version: int, run_dirs: dict[str, Path], budget_dirs: dict[str, Path]) -> None:
        self.version = version
        self.run_dirs = run_dirs
        self.budget_dirs = budget_dirs
        self._oom_kills = 0
        self._own_events = 0
        self._configured: tuple[int, int] | None = None

    def _read(self, directory: Path, name: str) -> str:
        try:
            return (directory / name).read_text()
        except OSError:
            return ""

    def _memory_counters(self) -> tuple[int, int]:
        """(times the run's own memory limit was hit, OOM kills of the run's processes)."""
        if self.version == 2:
            events = self._read(self.run_dirs["unified"], "memory.events")
            return _field(events, "max"), _field(events, "oom_kill")
        own = int(self._read(self.run_dirs["memory"], "memory.failcnt") or 0)
        return own, _field(self._read(self.run_dirs["memory"], "memory.oom_control"), "oom_kill")

    def configure(self, memory_mb: int, processes: int) -> None:
        """Set the limits for the next run (written only when they change) and take the
        counters its evidence is measured from."""
        if self._configured != (memory_mb, processes):
            self._write_limits(memory_mb, processes)
            self._configured = (memory_mb, processes)
        self._own_events, self._oom_kills = self._memory_counters()

    def _write_limits(self, memory_mb: int, processes: int) -> None:
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

    def join(self, pid: int) -> None:
        """Move ``pid`` (a run's first process, before it forks) into this run's cgroup(s)."""
        for directory in self.run_dirs.values():
            _write(directory / "cgroup.procs", str(pid))

    def evidence(self) -> RunEvidence:
        own, kills = self._memory_counters()
        return RunEvidence(own_limit_hit=own > self._own_events, oom_kills=kills - self._oom_kills)


def _set_v1_memory(directory: Path, memory: str) -> None:
    """The memory limit, and no swapping in the run's own reclaim.

    Swap is kept out with ``memory.swappiness`` 0 rather than a memory+swap
    limit: at the same value that limit is hit first, and the kernel counts
    hits (``memory.failcnt``, the evidence of the run's own limit) only for the
    memory limit. The memory+swap limit is lifted first (v1 keeps memory <=
    memory+swap at every step)."""
    _write(directory / "memory.memsw.limit_in_bytes", "-1", required=False)
    _write(directory / "memory.limit_in_bytes", memory)
    _write(directory / "memory.swappiness", "0", required=False)


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


def _weigh_budget(budget: Path, version: int) -> None:
    """The budget's CPU weight: one default task's per run cgroup under it, so the runs together
    compete with the service's other processes as their own processes would without cgroups (as
    one task's weight in all they would get a single CPU's share on a busy host)."""
    runs = max(1, sum(1 for _ in budget.glob("run-*")))
    if version == 1:
        _write(budget / "cpu.shares", str(_V1_SHARES * runs), required=False)
    else:
        _write(budget / "cpu.weight", str(min(_V2_MAX_WEIGHT, _V2_WEIGHT * runs)), required=False)


def _v2(budget: Path, budget_memory_mb: int) -> RunCgroup:
    """Under a delegated cgroup v2 directory (the budget); its own limits may belong to whoever
    delegated it, so writing them is best effort."""
    _remove_stale(budget)
    _write(budget / "cgroup.subtree_control", "+memory +pids +cpu", required=False)
    run = budget / f"run-{os.getpid()}"
    run.mkdir(exist_ok=True)
    if budget_memory_mb:
        _write(budget / "memory.max", str(budget_memory_mb * 1024 * 1024), required=False)
    _weigh_budget(budget, 2)
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
    _weigh_budget(budgets["cpu"], 1)
    return RunCgroup(1, runs, budgets)
