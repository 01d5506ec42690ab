"""Host side of a cell's fork server: prepared run slots, taken one per run.

A verifier process owns one :class:`ForkServer`: a bubblewrap cell (cell.py)
around the fork server (zygote.py), restarted when it died. The fork server
prepares a run *slot* ahead of time (the run's namespaces, its init and two
set-up sandbox processes, session.py and cocoon.py); :meth:`ForkServer.take`
hands the prepared slot out and at once asks for the next one, so the next
run is set up while this one runs and an item pays only for its own code.

What the host learns of a slot comes from the kernel, never from the
sandbox: the init's host pid from ``SCM_CREDENTIALS`` on its first message,
held as a pidfd so a reused pid is never signalled. Before a slot is handed
out, the previous run must be gone (its init, PID 1 of its namespace, exits
only after every process of the run), and the slot's processes become the
OOM killer's first choice (``oom_score_adj`` 1000, inherited by all they
fork): never the fork server, never the next prepared slot.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rewardgate.sources.rule.sandbox import cell, wire

_UCRED = struct.Struct("iII")
_HELLO = wire.dumps({"hello": True})
_START_TIMEOUT_S = 10.0
_GONE_TIMEOUT_S = 2.0


class SlotUnavailable(RuntimeError):
    """The cell could not prepare a run slot (it is not running the response's code yet)."""


@dataclass
class Slot:
    """A prepared run: its channel, its init's host pid (and pidfd), what it reported ready."""

    channel: socket.socket
    reader: object
    pid: int
    pidfd: int
    protections: list[str] = field(default_factory=list)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)


class ForkServer:
    """A fork server in its bubblewrap cell, owned by this process, restarted if it died.

    ``on_start(host_pids)`` runs when a cell is up and before it prepares
    anything (the runner moves the cell into its cgroup there)."""

    def __init__(self, on_start: Callable[[list[int]], None] | None = None) -> None:
        self.on_start = on_start
        self._process = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()
        self._prepared: dict | None = None  # the limits of the slot asked for and not yet taken
        self._previous: int | None = None  # pidfd of the last run's init

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """Host pid of the cell's outer process (bubblewrap)."""
        return None if self._process is None else self._process.pid

    def host_pids(self) -> list[int]:
        """Host pids of the cell's processes (bubblewrap and everything under it)."""
        return [] if self._process is None else descendants(self._process.pid, include_root=True)

    def take(self, limits: dict) -> Slot:
        """The slot prepared for ``limits`` (made now if none was), once the previous run is gone.

        Raises:
            SlotUnavailable: no slot could be made in three tries (the last in a fresh cell)."""
        with self._lock:
            self._wait_previous()
            error: Exception | None = None
            for attempt in range(3):
                try:
                    return self._take(limits)
                except SlotUnavailable as exc:  # that slot failed (e.g. made during a process bomb)
                    error = exc
                    if attempt:
                        self._stop()  # twice: a fresh cell
                except (OSError, ValueError, KeyError) as exc:  # the fork server is broken
                    error = exc
                    self._stop()
            raise SlotUnavailable(str(error) or type(error).__name__)

    def finish(self, slot: Slot) -> None:
        """End the run of ``slot`` (killing its init ends every process of the run)."""
        slot.kill()
        slot.reader.close()
        slot.channel.close()
        if self._previous is not None:
            os.close(self._previous)
        self._previous = slot.pidfd

    def _take(self, limits: dict) -> Slot:
        if not self.alive:
            self._stop()
            self._start()
        if self._prepared is not None and self._prepared != limits:
            self._collect().close()  # a slot for other limits: closing its channel ends it
        if self._prepared is None:
            self._prepare(limits)
        channel = self._collect()
        self._prepare(limits)  # the next run's slot, made while this one runs
        return _open(channel)

    def _wait_previous(self) -> None:
        """Until the last run's init has exited: then no process of that run is left."""
        if self._previous is not None:
            select.select([self._previous], [], [], _GONE_TIMEOUT_S)
            os.close(self._previous)
            self._previous = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = cell.start_cell(theirs.fileno())
        except cell.CellUnavailable as exc:
            ours.close()
            raise SlotUnavailable(f"the sandbox cell could not start: {exc}") from None
        finally:
            theirs.close()
        self._control = ours
        ours.settimeout(_START_TIMEOUT_S)
        if ours.recv(1 << 12) != b'{"up": true}':
            raise SlotUnavailable("the sandbox fork server did not start")
        if self.on_start is not None:
            self.on_start(self.host_pids())

    def _prepare(self, limits: dict) -> None:
        self._control.send(json.dumps({"prepare": limits}).encode())
        self._prepared = limits

    def _collect(self) -> socket.socket:
        """The channel of the slot asked for last."""
        self._prepared = None
        self._control.settimeout(_START_TIMEOUT_S)
        data, fds, _, _ = socket.recv_fds(self._control, 1 << 12, 1)
        reply = json.loads(data)
        if "slot" not in reply or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise SlotUnavailable(f"the fork server could not prepare a run: {reply.get('failed')}")
        return socket.socket(fileno=fds[0])

    def _stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait()
        if self._control is not None:
            self._control.close()
        self._process = self._control = self._prepared = None


def _open(channel: socket.socket) -> Slot:
    """Read a slot's hello (the kernel's credentials) and its ready report."""
    channel.settimeout(_START_TIMEOUT_S)
    pid = _sender_pid(channel)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        channel.close()
        raise SlotUnavailable("the prepared run is gone") from None
    slot = Slot(channel, channel.makefile("rb"), pid, pidfd)
    try:
        ready = wire.read_message(slot.reader)
        if not isinstance(ready, dict) or not isinstance(ready.get("protections"), list):
            raise SlotUnavailable(f"the prepared run failed: {(ready or {}).get('failed', 'it exited')}")
        slot.protections = [str(p) for p in ready["protections"]]
        _first_to_kill(pid)
    except (OSError, wire.WireError, SlotUnavailable):
        slot.kill()
        channel.close()
        os.close(pidfd)
        raise
    return slot


def _first_to_kill(init: int) -> None:
    """The OOM killer's first choice: the run's init and its cocoons, and so everything the code
    forks (1000, inherited); never the cell or the next prepared run (0). Once the code has the
    run, whichever of its processes the killer takes, the ending is the candidate's doing."""
    with open(f"/proc/{init}/task/{init}/children") as listing:
        cocoons = [int(pid) for pid in listing.read().split()]
    for member in (init, *cocoons):
        with open(f"/proc/{member}/oom_score_adj", "w") as setting:
            setting.write("1000")


def _sender_pid(channel: socket.socket) -> int:
    """The pid, in this PID namespace, of the process that sent the hello (exactly its bytes)."""
    try:
        data, ancillary, _, _ = channel.recvmsg(len(_HELLO), socket.CMSG_SPACE(_UCRED.size))
    except OSError:
        data, ancillary = b"", []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and data == _HELLO:
            pid = _UCRED.unpack(payload[: _UCRED.size])[0]
            if pid > 0:
                return pid
    channel.close()
    raise SlotUnavailable("the prepared run did not start")


def descendants(pid: int, include_root: bool = False) -> list[int]:
    """Host pids of every process under ``pid`` (and ``pid``), from /proc."""
    found, queue = ([pid] if include_root else []), [pid]
    while queue:
        for children in Path(f"/proc/{queue.pop()}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                pids = [int(child) for child in children.read_text().split()]
                found += pids
                queue += pids
    return found
