"""Host side of the code sandbox: runs a program against tests and returns what happened.

Each verifier process keeps one :class:`Zygote` (a clean fork server, see
zygote.py) and asks it for one session per run; the session's init and
everything under it live in fresh namespaces (see isolation.py) and die with
it. Pass/fail is never decided where the candidate can reach:

* ``tests`` (asserts, unittest, HumanEval ``check(...)``) and ``calls`` (APPS
  ``fn_name``) run in a judge process under another uid, calling the
  candidate through a plain-data proxy;
* ``stdio`` runs the program once per input; the outputs come back here and
  :mod:`rewardgate.sources.rule.code` compares them with expectations that never enter
  the sandbox (likewise the values of ``calls``).

A run that exceeds ``budget_s`` (plus a short grace) is killed from here:
killing the session's first process kills its init, which takes the whole PID
namespace with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rewardgate.errors import ComponentError
from rewardgate.sources.rule import cancellation
from rewardgate.sources.rule.sandbox import wire

ZYGOTE = Path(__file__).with_name("zygote.py")
_BASE_UID = 61_000
_GRACE_S = 2.0


class SandboxError(ComponentError):
    """The sandbox itself failed (set-up, a dead zygote): not the code's fault."""

    error_type = "sandbox_error"


class SandboxKilled(SandboxError):
    """The sandbox was killed from outside (OOM killer, an operator) before its verdict; retry."""

    error_type = "sandbox_killed"
    retryable = True


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0
    memory_mb: int = 512
    output_kb: int = 64
    processes: int = 32


@dataclass
class SessionOutcome:
    """What one session reported: its protections, records, and whether it ended by itself."""

    protections: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    ended: bool = False
    killed_at_deadline: bool = False


def sandbox_uids() -> tuple[int, int]:
    """(judge uid, candidate uid), unique per verifier process (one run at a time each)."""
    base = _BASE_UID + (os.getpid() % 2000) * 2
    return base, base + 1


class Zygote:
    """A fork server owned by this process, restarted if it died."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        python = getattr(sys, "_base_executable", sys.executable)
        self._process = subprocess.Popen(
            [python, "-I", "-S", str(ZYGOTE), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
            start_new_session=True,
        )
        theirs.close()
        self._control = ours

    def spawn(self, spec: dict, channel: socket.socket) -> int:
        """Fork a session for ``spec`` talking over ``channel``; returns its pid."""
        with self._lock:
            for attempt in range(2):
                if self._process is None or self._process.poll() is not None:
                    self._start()
                try:
                    socket.send_fds(self._control, [json.dumps(spec).encode()], [channel.fileno()])
                    self._control.settimeout(10)
                    reply = self._control.recv(1 << 12)
                    return int(json.loads(reply)["pid"])
                except (OSError, ValueError, KeyError):
                    self._stop()
                    if attempt:
                        raise SandboxError("the sandbox fork server is not answering") from None
        raise AssertionError("unreachable")

    def _stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait()
        if self._control is not None:
            self._control.close()
        self._process = self._control = None


_zygote = Zygote()


def run_session(mode: str, source: str, payload: dict, limits: SandboxLimits) -> SessionOutcome:
    """Run ``source`` in ``mode`` (tests, calls or stdio) with ``payload``; see the module docstring.

    Raises:
        SandboxError: the session could not be set up.
    """
    spec = {
        "mode": mode,
        "uids": sandbox_uids(),
        "budget_s": limits.timeout_s,
        "limits": {
            "cpu_s": max(1, int(limits.timeout_s) + 1),
            "memory_mb": limits.memory_mb,
            "file_kb": limits.output_kb,
            "processes": limits.processes,
        },
    }
    ours, theirs = socket.socketpair()
    with ours, theirs:
        pid = _zygote.spawn(spec, theirs)
        theirs.close()
        try:
            # A cancelled request kills the session (its whole PID namespace) at once.
            if not cancellation.register(pid):
                raise SandboxError("the request was cancelled before the sandbox ran")
            return _converse(ours, source, payload, time.monotonic() + limits.timeout_s + _GRACE_S)
        finally:
            cancellation.unregister()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _converse(channel: socket.socket, source: str, payload: dict, deadline: float) -> SessionOutcome:
    outcome = SessionOutcome()
    reader = channel.makefile("rb")
    try:
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
            if "failed" in message:
                raise SandboxError("the sandbox failed while running")
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
