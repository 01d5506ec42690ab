"""One sandbox run: its init, prepared as a slot before the run exists.

Standard library only; forked from the fork server inside the cell while the
previous run is still going, so a run's set-up is off the item's critical
path. Talks to the host over ``channel`` (one JSON line per message):

1. the init sends ``{"hello": true}`` at once: the host reads the init's host
   pid from the kernel's ``SCM_CREDENTIALS`` when it takes the slot;
2. it forks two cocoons (cocoon.py: own tmpfs, limits, no privileges,
   seccomp) and sends ``{"protections": [...]}``: the slot is ready (or
   ``{"failed": reason}``: the slot is not, and the host makes another);
3. it waits for the host's ``{"go": true, "mode", "budget_s", "source"}``
   and the payload (``{"kind": "tests", "tests"}``, ``{"kind": "calls",
   "fn_name", "inputs"}`` or ``{"inputs": [...]}`` in stdio mode: never the
   expected outputs, which stay on the host);
4. in tests and calls modes it hands the source to one cocoon (the
   candidate) and the payload to the other (the examiner), which never share a
   writable mount, and forwards the examiner's records; in stdio mode it runs
   the program in a fresh cocoon per input and forwards ``{"case": {...}}``;
5. sends ``{"end": true}`` and exits; as PID 1 of the run its exit takes
   every process of the run with it.

From the host's go on, any ending of the run is the candidate's failure
unless evidence says otherwise. The init's one piece of such evidence is
``{"failed": reason, "before_code": true}``: a step of the sandbox failed
before code of the response was handed over (the host then retries in a
fresh slot). The init cannot be made to send it afterwards: it records the
hand-over before making it, and as PID 1 of the run it has no signal
handler a process of the run could trigger.

All cases of an item share one time budget, counted from the host's go.
"""

import contextlib
import os
import select
import signal
import socket
import time

try:
    from . import isolation, wire
    from .cocoon import Cocoon, SetupFailed
except ImportError:  # pragma: no cover - the zygote's import path
    import isolation
    import wire
    from cocoon import Cocoon, SetupFailed

#: The seccomp program every sandbox process installs (raw BPF); the fork server loads it once.
CODE_FILTER = b""
HELLO = wire.dumps({"hello": True})
PROTECTIONS = [
    "bubblewrap cell: user namespace (no host root), no network, read-only root, no /proc",
    "seccomp (libseccomp): native syscall ABI only, privileged and namespace syscalls denied",
    "own mount, PID and IPC namespaces per run",
    # Reply text of the sandbox service (wire): worded as it always was ("judge": the examiner).
    "private tmpfs per process (judge and candidate apart), made before the code exists",
    "no capabilities, no_new_privs, rlimits",
]
_SPARE_COCOONS = 2


class Session:
    """A taken slot: runs the host's go with the cocoons prepared for it."""

    def __init__(self, go: dict, limits: dict, channel: socket.socket, reader, spare: list[Cocoon]) -> None:
        self.mode = go["mode"]
        self.source = str(go["source"])
        self.deadline = time.monotonic() + float(go["budget_s"])
        self.limits = limits
        self.channel = channel
        self.reader = reader
        self.spare = spare
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.code_handed = False

    def send(self, **message) -> None:
        self.channel.sendall(wire.dumps(message))

    def receive_payload(self) -> dict:
        self.channel.settimeout(max(0.01, self.deadline - time.monotonic()))
        message = wire.read_message(self.reader)
        if not isinstance(message, dict):
            raise wire.WireError("no payload from the host")
        return message

    def run(self) -> None:
        if self.mode == "stdio":
            self.run_stdio()
        else:
            self.run_examined()
        self.send(end=True)

    def cocoon(self) -> Cocoon:
        """A prepared cocoon, else a new one."""
        return self.spare.pop(0) if self.spare else Cocoon.make(self.limits, CODE_FILTER)

    def hand_over(self, cocoon: Cocoon, role: str, body, fds: dict[int, int], budget_s: float = 0.0) -> None:
        """Instruct ``cocoon``.

        Raises:
            SetupFailed: the cocoon was gone before it got the instruction (it ran nothing)."""
        code = role != "examiner"
        first_code = code and not self.code_handed
        # Marked before the hand-over: once it is sent the code may run, and nothing it does
        # (a signal, an exhausted limit) can then make this run report a failure before the code.
        self.code_handed = self.code_handed or code
        if not cocoon.instruct(role, body, fds, budget_s):
            if first_code:
                self.code_handed = False
            raise SetupFailed(f"the {role} process was gone before it started")

    def run_examined(self) -> None:
        payload = self.receive_payload()
        candidate, examiner = self.cocoon(), self.cocoon()
        examiner_end, candidate_end = socket.socketpair()
        self.hand_over(candidate, "candidate", self.source, {3: candidate_end.fileno()})
        candidate_end.close()
        records, results = os.pipe()
        fds = {3: examiner_end.fileno(), 4: results}
        self.hand_over(examiner, "examiner", payload, fds, self.deadline - time.monotonic())
        os.close(results)
        examiner_end.close()
        # Until the examiner closes its end: it has written its last record (or was killed).
        with open(records, "rb") as stream:
            for line in iter(lambda: stream.readline(wire.MAX_LINE_BYTES), b""):
                self.channel.sendall(line if line.endswith(b"\n") else line + b"\n")

    def run_stdio(self) -> None:
        inputs = self.receive_payload()["inputs"]
        for text in inputs:
            if time.monotonic() >= self.deadline:
                self.send(case={"timed_out": True})
                continue
            self.send(case=self.run_case(str(text)))

    def run_case(self, text: str) -> dict:
        program = self.cocoon()
        stdin = os.memfd_create("stdin")
        os.write(stdin, text.encode())
        os.lseek(stdin, 0, os.SEEK_SET)
        out_read, out_write = os.pipe()
        try:
            self.hand_over(program, "program", self.source, {0: stdin, 1: out_write, 2: self.devnull})
        finally:
            os.close(stdin)
            os.close(out_write)
        observed = self._collect(program.pid, out_read)
        os.close(out_read)
        return observed

    def _collect(self, pid: int, out_read: int) -> dict:
        """Read the program's stdout until it exits, the budget ends or the output cap is hit."""
        output, cap = bytearray(), self.limits["file_kb"] * 1024
        exited = os.pidfd_open(pid)
        observed = {"timed_out": False, "output_limit": False, "exit": None}
        watched = [out_read, exited]
        while watched != [exited] or observed["exit"] is None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                observed["timed_out"] = True
                break
            ready, _, _ = select.select(watched, [], [], remaining)
            if out_read in ready:
                chunk = os.read(out_read, 65536)
                output += chunk
                if not chunk:
                    watched.remove(out_read)
                elif len(output) > cap:
                    observed["output_limit"] = True
                    break
            if exited in ready and observed["exit"] is None:
                _, status = os.waitpid(pid, 0)
                observed["exit"] = os.waitstatus_to_exitcode(status)
                self.kill_children()  # background children no longer hold stdout open
        os.close(exited)
        self.kill_children()
        observed["stdout"] = output[:cap].decode(errors="replace")
        return observed

    def kill_children(self) -> None:
        """Kill and reap every process of the run but this one (PID 1 of the run), spare cocoons too."""
        self.spare = []
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(-1, signal.SIGKILL)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return


def _report_failure(channel: socket.socket, before_code: bool, exc: BaseException) -> None:
    with contextlib.suppress(OSError):
        reason = f"{type(exc).__name__}: {exc}"[:300]
        channel.sendall(wire.dumps({"failed": reason, "before_code": before_code}))


def start(limits: dict, channel_fd: int) -> None:
    """In the child the fork server forked: a session of its own, the run's namespaces, its init.

    This process exits as soon as the init is forked (the cell's PID 1 reaps
    the init later); the init is PID 1 of the run."""
    os.setsid()  # the run's own process group: killpg from the run never reaches the fork server
    channel = socket.socket(fileno=channel_fd)
    try:
        isolation.enter_run_namespaces()
        init = os.fork()
    except OSError as exc:
        _report_failure(channel, True, exc)
        os._exit(1)
    if init == 0:
        _init(limits, channel)
    os._exit(0)


def _init(limits: dict, channel: socket.socket) -> None:
    """PID 1 of the run: hello, the cocoons, the host's go, the run; never returns."""
    isolation.dumpable()  # until the go: the host sets this run's OOM scores (isolation.dumpable)
    isolation.set_name("rg-slot")
    # PID 1 of the run: a signal from inside the run reaches it only if it has a handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    session = None
    try:
        channel.sendall(HELLO)
        spare = [Cocoon.make(limits, CODE_FILTER) for _ in range(_SPARE_COCOONS)]
        channel.sendall(wire.dumps({"protections": PROTECTIONS}))
        reader = channel.makefile("rb")
        go = wire.read_message(reader)  # blocks until the host takes this slot, or goes away
        if not isinstance(go, dict) or go.get("go") is not True:
            os._exit(0)
        isolation.not_dumpable()
        isolation.set_name("rg-run")
        session = Session(go, limits, channel, reader, spare)
        session.run()
    except BaseException as exc:  # reported to the host; a verdict only if the candidate had run
        _report_failure(channel, not (session and session.code_handed), exc)
        os._exit(1)
    os._exit(0)
