"""Host side of the code sandbox: runs a program against tests and returns what happened.

Each verifier process keeps one :class:`Zygote`: a fork server inside a
bubblewrap cell (cell.py), restarted if it died. Each run is a session the
fork server forks; the session enters fresh namespaces (isolation.py) and
its init and everything under it die with it. Pass/fail is never decided
where the candidate can reach:

* ``tests`` (asserts, unittest, HumanEval ``check(...)``) and ``calls`` (APPS
  ``fn_name``) run in a judge process with its own tmpfs and mount namespace,
  calling the candidate through a plain-data proxy;
* ``stdio`` runs the program once per input; the outputs come back here and
  :mod:`rewardgate.sources.rule.code` compares them with expectations that never enter
  the sandbox (likewise the values of ``calls``).

The session's host pid comes from the kernel (``SCM_CREDENTIALS`` on its
first message), never from the sandbox. With it this side places the run in
its cgroup (cgroups.py) before anything runs, and kills the run when its
budget (plus a short grace) is spent: killing the session kills its init,
which takes the whole PID namespace with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rewardgate.errors import ComponentError
from rewardgate.sources.rule import cancellation
from rewardgate.sources.rule.sandbox import cell, cgroups, wire

_GRACE_S = 2.0
_CELL_MB = 64
_UCRED = struct.Struct("iII")


class SandboxError(ComponentError):
    """The sandbox itself failed before the code ran (set-up, a dead fork server): not the code's fault."""

    error_type = "sandbox_error"


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
class SessionOutcome:
    """What one session reported, and the evidence only this side can see.

    ``records``: the session's messages. ``candidate_started``: code of the
    response ran (every failure after that is the candidate's unless evidence
    says otherwise). ``killed_at_deadline``: this side killed the run at its
    budget. ``infrastructure_failure``: evidence the candidate cannot produce
    that the infrastructure failed the run (the budget's OOM killer, the cell
    died); ``setup_failure``: the sandbox failed before any code ran."""

    protections: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    ended: bool = False
    killed_at_deadline: bool = False
    candidate_started: bool = False
    setup_failure: str | None = None
    infrastructure_failure: str | None = None


class Zygote:
    """A fork server in its bubblewrap cell, owned by this process, restarted if it died."""

    def __init__(self) -> None:
        self._process = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()
        #: Whether this cell's processes are in the run cgroup (done once per cell: a move costs ms).
        self.in_cgroup = False

    def host_pids(self) -> list[int]:
        """Host pids of the cell's processes (bubblewrap and everything under it)."""
        if self._process is None:
            return []
        found, queue = [self._process.pid], [self._process.pid]
        while queue:
            for children in Path(f"/proc/{queue.pop()}/task").glob("*/children"):
                with contextlib.suppress(OSError, ValueError):
                    pids = [int(pid) for pid in children.read_text().split()]
                    found += pids
                    queue += pids
        return found

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = cell.start_cell(theirs.fileno())
            self.in_cgroup = False
        except (OSError, cell.CellUnavailable) as exc:
            ours.close()
            raise SandboxError(f"the sandbox cell could not start: {exc}") from None
        finally:
            theirs.close()
        self._control = ours

    def spawn(self, spec: dict, channel: socket.socket) -> None:
        """Fork a session for ``spec`` talking over ``channel``."""
        with self._lock:
            for attempt in range(2):
                if not self.alive:
                    self._stop()
                    self._start()
                try:
                    socket.send_fds(self._control, [json.dumps(spec).encode()], [channel.fileno()])
                    self._control.settimeout(10)
                    json.loads(self._control.recv(1 << 12))["pid"]
                    return
                except (OSError, ValueError, KeyError, TypeError):
                    self._stop()
                    if attempt:
                        raise SandboxError("the sandbox fork server is not answering") from None

    def _stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait()
        if self._control is not None:
            self._control.close()
        self._process = self._control = None


_zygote = Zygote()
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


def run_session(mode: str, source: str, payload: dict, limits: SandboxLimits) -> SessionOutcome:
    """Run ``source`` in ``mode`` (tests, calls or stdio) with ``payload``; see the module docstring.

    Raises:
        SandboxError: the session could not be started.
    """
    spec = {
        "mode": mode,
        "budget_s": limits.timeout_s,
        "limits": {
            "cpu_s": max(1, int(limits.timeout_s) + 1),
            "memory_mb": limits.memory_mb,
            "file_kb": limits.output_kb,
            "processes": limits.processes,
            "tmpfs_mb": limits.tmpfs_mb,
        },
    }
    cgroup = run_cgroup(limits)
    if cgroup is not None:
        _configure(cgroup, limits)
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    with ours, theirs:
        _zygote.spawn(spec, theirs)
        theirs.close()
        deadline = time.monotonic() + limits.timeout_s + _GRACE_S
        pid = _session_pid(ours, deadline)
        try:
            if cgroup is not None:
                _enter_cgroup(cgroup, pid)
            # A cancelled request kills the session (its whole PID namespace) at once.
            if not cancellation.register(pid):
                raise SandboxError("the request was cancelled before the sandbox ran")
            outcome = _converse(ours, source, payload, deadline)
        finally:
            cancellation.unregister()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return _with_evidence(outcome, cgroup)


def _configure(cgroup: cgroups.RunCgroup, limits: SandboxLimits) -> None:
    """The run's limits, once the previous run has left (the cell itself stays in the cgroup).

    Memory: the run's processes, its tmpfs pages (judge and candidate) and the cell's share;
    processes: the run's, its session and init, and the cell's three."""
    try:
        cgroup.settle(len(_zygote.host_pids()) if _zygote.in_cgroup else 0)
        cgroup.configure(limits.memory_mb + limits.tmpfs_mb * 2 + _CELL_MB, max(limits.processes, 1) + 5)
    except OSError as exc:
        raise SandboxError(f"the run's cgroup could not be configured: {exc}") from None


def _enter_cgroup(cgroup: cgroups.RunCgroup, session_pid: int) -> None:
    """Put the cell in the run cgroup (first run of a cell) and make the run the OOM killer's first choice."""
    try:
        if not _zygote.in_cgroup:
            for pid in [*_zygote.host_pids(), session_pid]:
                with contextlib.suppress(ProcessLookupError):
                    cgroup.join(pid)
            _zygote.in_cgroup = True
        # Inherited by everything the run forks: never the cell's fork server first.
        Path(f"/proc/{session_pid}/oom_score_adj").write_text("1000")
    except OSError as exc:
        raise SandboxError(f"the run could not join its cgroup: {exc}") from None


def _session_pid(channel: socket.socket, deadline: float) -> int:
    """The session's pid in this PID namespace, from the kernel's credentials on its hello."""
    channel.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        data, ancillary, _, _ = channel.recvmsg(64, socket.CMSG_SPACE(_UCRED.size))
    except OSError:
        data, ancillary = b"", []
    for level, kind, payload in ancillary:
        if (
            level == socket.SOL_SOCKET
            and kind == socket.SCM_CREDENTIALS
            and data == wire.dumps({"hello": True})
        ):
            return _UCRED.unpack(payload[: _UCRED.size])[0]
    raise SandboxError("the sandbox session did not start")


def _with_evidence(outcome: SessionOutcome, cgroup: cgroups.RunCgroup | None) -> SessionOutcome:
    if cgroup is not None:
        evidence = cgroup.evidence()
        if evidence.budget_oom_kills and not evidence.own_limit_hit:
            outcome.infrastructure_failure = "the sandbox budget's OOM killer ended the run"
    if not outcome.ended and not outcome.killed_at_deadline and not _zygote.alive:
        outcome.infrastructure_failure = "the sandbox cell died during the run"
    return outcome


def _converse(channel: socket.socket, source: str, payload: dict, deadline: float) -> SessionOutcome:
    outcome = SessionOutcome()
    reader = channel.makefile("rb")
    try:
        channel.sendall(wire.dumps({"go": True}))
        first = _next(channel, reader, deadline)
        if not first or "protections" not in first:
            reason = (first or {}).get("failed", "it exited before reporting")
            raise SandboxError(f"the sandbox could not start: {reason}")
        outcome.protections = list(first["protections"])
        channel.sendall(wire.dumps({"source": source}) + wire.dumps(payload))
        while (message := _next(channel, reader, deadline)) is not None:
            if message.get("end") is True:
                outcome.ended = True
                break
            if message.get("candidate_started") is True:
                outcome.candidate_started = True
            elif "failed" in message:
                if not outcome.candidate_started:
                    outcome.setup_failure = str(message["failed"])
                break
            else:
                outcome.records.append(message)
    except TimeoutError:
        outcome.killed_at_deadline = True
    except (OSError, wire.WireError):
        pass  # the session died: what it reported so far is the outcome
    return outcome


def _next(channel: socket.socket, reader, deadline: float) -> dict | None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    channel.settimeout(remaining)
    message = wire.read_message(reader)
    if message is not None and not isinstance(message, dict):
        raise wire.WireError("not a message")
    return message


def live_processes(uids: int | range | set[int]) -> list[int]:
    """Pids of the processes (not zombies) of ``uids`` (one uid, or several), in one pass over /proc.

    For tests and diagnostics."""
    wanted = {uids} if isinstance(uids, int) else uids
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        uid = int(fields.get("Uid", "-1").split("\t")[0])
        if uid in wanted and not fields.get("State", "").startswith("Z"):
            found.append(int(status.parent.name))
    return found
