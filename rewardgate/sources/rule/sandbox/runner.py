"""Host side of the code sandbox: runs a program against tests and returns what happened.

Each verifier process keeps one fork server in a bubblewrap cell
(forkserver.py, cell.py), restarted if it died, which keeps one run *slot*
prepared ahead of time: fresh namespaces, the run's init (PID 1 of the run,
whose exit takes every process of the run with it) and set-up sandbox
processes waiting for their code (session.py, cocoon.py). Pass/fail is never
decided where the candidate can reach:

* ``tests`` (asserts, unittest, HumanEval ``check(...)``) and ``calls`` (APPS
  ``fn_name``) run in a examiner process with its own tmpfs and mount namespace,
  calling the candidate through a plain-data proxy;
* ``stdio`` runs the program once per input; the outputs come back here and
  :mod:`rewardgate.sources.rule.code` compares them with expectations that never enter
  the sandbox (likewise the values of ``calls``).

The run's host pid comes from the kernel (``SCM_CREDENTIALS`` on its first
message), never from the sandbox. The cell sits in this process's run cgroup
(cgroups.py) from its start, so every run is born inside it, and this side
kills the run when its budget (plus a short grace) is spent.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from rewardgate.errors import ComponentError
from rewardgate.sources.rule import cancellation
from rewardgate.sources.rule.sandbox import cgroups, forkserver, wire

_GRACE_S = 2.0
#: Most bytes of messages read from one run: the records hold values the code returned.
_MAX_REPORT_BYTES = 64 * 1024 * 1024
#: Memory of the cell (fork server, bubblewrap) and of the next prepared run, in a run's cgroup.
_CELL_MB = 96
#: Processes of the sandbox itself besides the code's: the cell's 3, the run's init and 2 cocoons,
#: the next prepared run's 4 (while it is being made).
_RESIDENT_PROCESSES = 10


class SandboxError(ComponentError):
    """The sandbox itself failed before the code ran (set-up, a dead fork server): not the code's fault."""

    error_type = "sandbox_error"
    # The service's failure: retrying may find a working sandbox (rewardgate/pipeline/failures.py).
    retryable = True


class SandboxKilled(SandboxError):
    """The infrastructure killed the run (the sandbox budget's OOM killer, a dead cell); retry."""

    error_type = "sandbox_killed"
    retryable = True


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0
    memory_mb: int = 512
    output_kb: int = 64
    processes: int = 32
    tmpfs_mb: int = 64


@dataclass
class SessionReport:
    """What one run reported, and the evidence only this side can see.

    ``records``: the run's messages. ``candidate_started``: the host's go (with
    the code) reached the run, so code of the response may have run: every
    ending after that is the candidate's unless evidence says otherwise.
    ``killed_at_deadline``: this side killed the run at its budget.
    ``infrastructure_failure``: evidence the candidate cannot produce that the
    infrastructure failed the run (the budget's OOM killer, the cell died);
    ``setup_failure``: the sandbox reported a failure before it handed over
    any code."""

    protections: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    ended: bool = False
    killed_at_deadline: bool = False
    candidate_started: bool = False
    setup_failure: str | None = None
    infrastructure_failure: str | None = None


_forkserver: forkserver.ForkServer | None = None
_cgroup: cgroups.RunCgroup | None = None
_cgroup_checked = False


def run_cgroup(limits: SandboxLimits) -> cgroups.RunCgroup | None:
    """This process's run cgroup (None where cgroups cannot be used), found once."""
    global _cgroup, _cgroup_checked
    if not _cgroup_checked:
        _cgroup_checked = True
        budget_mb = int(os.environ.get("REWARDGATE_SANDBOX_BUDGET_MB", "0") or 0)
        _cgroup = cgroups.detect(budget_mb)
    return _cgroup


def fork_server() -> forkserver.ForkServer:
    """This process's fork server (its cell starts on the first run)."""
    global _forkserver
    if _forkserver is None:
        _forkserver = forkserver.ForkServer(on_start=_join_cgroup)
    return _forkserver


def run_session(mode: str, source: str, payload: dict, limits: SandboxLimits) -> SessionReport:
    """Run ``source`` in ``mode`` (tests, calls or stdio) with ``payload``; see the module docstring.

    A run whose sandbox failed before any code of the response was handed over
    is run once more in a fresh slot (nothing of the response ran, so nothing
    is repeated).

    Raises:
        SandboxError: no run could be started (nothing of the response ran).
    """
    run_limits = {
        "cpu_s": max(1, int(limits.timeout_s) + 1),
        "memory_mb": limits.memory_mb,
        "file_kb": limits.output_kb,
        # Counted per uid in the cell: the sandbox's own processes come on top of the code's.
        "processes": limits.processes + _RESIDENT_PROCESSES,
        "tmpfs_mb": limits.tmpfs_mb,
    }
    request = wire.dumps({"go": True, "mode": mode, "budget_s": limits.timeout_s, "source": source})
    request += wire.dumps(payload)
    report = _run_once(request, run_limits, limits)
    if report.setup_failure or not report.candidate_started:
        report = _run_once(request, run_limits, limits)
    return report


def _run_once(request: bytes, run_limits: dict, limits: SandboxLimits) -> SessionReport:
    cgroup = run_cgroup(limits)
    server = fork_server()
    try:
        if cgroup is not None:
            cgroup.configure(*cgroup_limits(limits))
        slot = server.take(run_limits)
    except (OSError, forkserver.SlotUnavailable) as exc:
        raise SandboxError(f"the sandbox could not prepare the run: {exc}") from None
    deadline = time.monotonic() + limits.timeout_s + _GRACE_S
    try:
        # A cancelled request kills the run (its whole PID namespace) at once.
        if not cancellation.register(slot.pid):
            raise SandboxError("the request was cancelled before the sandbox ran")
        report = _converse(slot, request, deadline)
    finally:
        cancellation.unregister()
        server.finish(slot)
    return _with_evidence(report, cgroup, server)


def cgroup_limits(limits: SandboxLimits) -> tuple[int, int]:
    """(memory MB, processes) of a run's cgroup, which also holds the cell and the next prepared run.

    Memory: the run's processes, its tmpfs pages (examiner and candidate) and the cell's and the
    next run's share; processes: the run's, its init and cocoons, the cell's and the next run's."""
    return limits.memory_mb + limits.tmpfs_mb * 2 + _CELL_MB, max(limits.processes, 1) + _RESIDENT_PROCESSES


def _join_cgroup(host_pids: list[int]) -> None:
    """A new cell's processes join this process's run cgroup before it prepares any run."""
    cgroup = _cgroup
    if cgroup is None:
        return
    for pid in host_pids:
        with contextlib.suppress(ProcessLookupError):
            cgroup.join(pid)


def _with_evidence(
    report: SessionReport, cgroup: cgroups.RunCgroup | None, server: forkserver.ForkServer
) -> SessionReport:
    if cgroup is not None and cgroup.evidence().killed_for_others:
        report.infrastructure_failure = "the OOM killer ended the run within its own memory limit"
    if not report.ended and not report.killed_at_deadline and not server.alive:
        report.infrastructure_failure = "the sandbox cell died during the run"
    return report


def _converse(slot: forkserver.Slot, request: bytes, deadline: float) -> SessionReport:
    report = SessionReport(protections=slot.protections)
    channel, reader = slot.channel, slot.reader
    try:
        channel.sendall(request)
        # From here the code may run: every ending is the candidate's unless evidence says otherwise.
        report.candidate_started = True
        budget = [_MAX_REPORT_BYTES]
        while (message := _next(channel, reader, deadline, budget)) is not None:
            if message.get("end") is True:
                report.ended = True
                break
            if "failed" in message:
                if message.get("before_code") is True:
                    report.setup_failure = str(message["failed"])
                break
            report.records.append(message)
    except TimeoutError:
        report.killed_at_deadline = True
    except (OSError, wire.WireError):
        pass  # the run died: what it reported so far is the report
    return report


def _next(channel: socket.socket, reader, deadline: float, budget: list[int]) -> dict | None:
    """The run's next message; None at its end, or once its messages passed ``budget[0]`` bytes
    in all (what the code returns can be large, and this process holds every record of the run)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    channel.settimeout(remaining)
    line = reader.readline(wire.MAX_LINE_BYTES + 1)
    budget[0] -= len(line)
    if not line or budget[0] < 0:
        return None
    message = wire.loads(line)
    if not isinstance(message, dict):
        raise wire.WireError("not a message")
    return message


#: Names of a prepared run's processes before the host's go (isolation.set_name).
IDLE_NAMES = frozenset({"rg-slot", "rg-cocoon"})


def live_processes(uids: int | range | set[int], runs_only: bool = False) -> list[int]:
    """Pids of the processes (not zombies) of ``uids`` (one uid, or several), in one pass over /proc.

    ``runs_only``: only processes of runs in progress: three PID namespaces deep
    (host, cell, run) and not a prepared slot's. For tests and diagnostics."""
    wanted = {uids} if isinstance(uids, int) else uids
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        uid = int(fields.get("Uid", "-1").split("\t")[0])
        if uid not in wanted or fields.get("State", "").startswith("Z"):
            continue
        if runs_only and (len(fields.get("NSpid", "").split()) < 3 or fields.get("Name") in IDLE_NAMES):
            continue
        found.append(int(status.parent.name))
    return found
