"""One sandbox run: the init process that runs a candidate against its tests.

Standard library only; forked from the fork server inside the cell, so it
starts warm. Talks to the host over ``channel`` (one JSON line per message):

1. sends ``{"hello": true}`` at once: the host reads this process's host pid
   from the kernel's ``SCM_CREDENTIALS`` and places it in the run's cgroup,
   then answers ``{"go": true}``;
2. enters fresh namespaces, forks the init (PID 1 of the run), which sends
   ``{"protections": [...]}`` and reads ``{"source": ...}``;
3. in call and tests mode, forks the candidate *before* it receives the tests,
   so the candidate's memory never holds them; then reads the payload
   (``{"kind": "tests", "tests"}`` or ``{"kind": "calls", "fn_name", "inputs"}``),
   forks the judge and forwards the judge's records;
4. in stdio mode, reads ``{"inputs": [...]}`` (never the expected outputs,
   which stay on the host) and forwards ``{"case": {...}}`` per input;
5. sends ``{"end": true}``; its exit takes every process of the run with it.

``{"candidate_started": true}`` is sent the first time code of the response
is about to run. A failure of the sandbox's own steps is sent as
``{"failed": reason}``; the host treats it as the sandbox's failure only if it
came before ``candidate_started`` (after that the candidate could have caused
it, e.g. a fork bomb that leaves the judge no process to start).

All cases of an item share one time budget.
"""

import contextlib
import os
import select
import signal
import socket
import time

try:
    from . import candidate, isolation, judge, wire
except ImportError:  # pragma: no cover - the zygote's import path
    import candidate
    import isolation
    import judge
    import wire


_READY_FD = 9
#: The seccomp program every sandbox process installs (raw BPF); the fork server loads it once.
CODE_FILTER = b""
PROTECTIONS = [
    "bubblewrap cell: user namespace (no host root), no network, read-only root, no /proc",
    "seccomp (libseccomp): native syscall ABI only, privileged and namespace syscalls denied",
    "own mount, PID and IPC namespaces per run",
    "private tmpfs per process (judge and candidate apart), made before the code runs",
    "no capabilities, no_new_privs, rlimits",
]


class SetupFailed(Exception):
    """A sandbox process failed before running anything of the response."""


class Session:
    def __init__(self, spec: dict, channel: socket.socket, reader) -> None:
        self.spec = spec
        self.limits = spec["limits"]
        self.program = CODE_FILTER
        self.channel = channel
        self.reader = reader
        self.deadline = time.monotonic() + spec["budget_s"]
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.candidate_started = False

    def send(self, **message) -> None:
        self.channel.sendall(wire.dumps(message))

    def receive_payload(self) -> dict:
        self.channel.settimeout(max(0.01, self.deadline - time.monotonic()))
        message = wire.read_message(self.reader)
        if not isinstance(message, dict):
            raise wire.WireError("no payload from the host")
        return message

    def run(self) -> None:
        self.send(protections=PROTECTIONS)
        self.source = str(self.receive_payload()["source"])
        if self.spec["mode"] == "stdio":
            self.run_stdio()
        else:
            self.run_judged()
        self.send(end=True)

    def _fork(self, fds: dict[int, int], body, *, candidate_code: bool) -> int:
        """Fork a sandbox process that keeps only ``fds``, gets its own tmpfs, drops every
        privilege, takes the limits and runs ``body``.

        Returns once the child confirmed its set-up over a pipe that ``body`` never
        holds, so code under test cannot fake a set-up failure and a real one is
        never mistaken for the code's doing.

        Raises:
            SetupFailed: the child could not be set up."""
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                isolation.keep_only_fds({**fds, _READY_FD: ready_write})
                isolation.private_tmpfs(self.limits["tmpfs_mb"])
                limits = self.limits
                isolation.limit(limits["cpu_s"], limits["memory_mb"], limits["file_kb"], limits["processes"])
                isolation.drop_privileges(self.program)
                os.write(_READY_FD, b"1")
                os.close(_READY_FD)
            except BaseException:
                os._exit(1)
            try:
                body()
            finally:
                os._exit(0)
        os.close(ready_write)
        confirmed = os.read(ready_read, 1)
        os.close(ready_read)
        if confirmed != b"1":
            raise SetupFailed("a sandbox process could not be set up")
        if candidate_code and not self.candidate_started:
            self.candidate_started = True
            self.send(candidate_started=True)
        return pid

    def run_judged(self) -> None:
        judge_end, candidate_end = socket.socketpair()
        source = self.source
        self._fork(
            {0: self.devnull, 1: self.devnull, 2: self.devnull, 3: candidate_end.fileno()},
            lambda: candidate.serve(3, source),
            candidate_code=True,
        )
        candidate_end.close()
        payload = self.receive_payload()
        records, results = os.pipe()
        budget = self.deadline - time.monotonic()

        def run_judge():
            isolation.not_dumpable()
            judge.main(3, 4, payload, budget)

        judge_pid = self._fork(
            {0: self.devnull, 1: self.devnull, 2: self.devnull, 3: judge_end.fileno(), 4: results},
            run_judge,
            candidate_code=False,
        )
        os.close(results)
        judge_end.close()
        with open(records, "rb") as stream:
            for line in iter(lambda: stream.readline(wire.MAX_LINE_BYTES), b""):
                self.channel.sendall(line if line.endswith(b"\n") else line + b"\n")
        os.waitpid(judge_pid, 0)
        self.kill_children()

    def run_stdio(self) -> None:
        inputs = self.receive_payload()["inputs"]
        for text in inputs:
            if time.monotonic() >= self.deadline:
                self.send(case={"timed_out": True})
                continue
            self.send(case=self.run_case(str(text)))

    def run_case(self, text: str) -> dict:
        stdin = os.memfd_create("stdin")
        os.write(stdin, text.encode())
        os.lseek(stdin, 0, os.SEEK_SET)
        out_read, out_write = os.pipe()
        source = self.source
        pid = self._fork(
            {0: stdin, 1: out_write, 2: self.devnull},
            lambda: candidate.run_program(source),
            candidate_code=True,
        )
        os.close(stdin)
        os.close(out_write)
        outcome = self._collect(pid, out_read)
        os.close(out_read)
        return outcome

    def _collect(self, pid: int, out_read: int) -> dict:
        """Read the program's stdout until it exits, the budget ends or the output cap is hit."""
        output, cap = bytearray(), self.limits["file_kb"] * 1024
        exited = os.pidfd_open(pid)
        outcome = {"timed_out": False, "output_limit": False, "exit": None}
        watched = [out_read, exited]
        while watched != [exited] or outcome["exit"] is None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                outcome["timed_out"] = True
                break
            ready, _, _ = select.select(watched, [], [], remaining)
            if out_read in ready:
                chunk = os.read(out_read, 65536)
                output += chunk
                if not chunk:
                    watched.remove(out_read)
                elif len(output) > cap:
                    outcome["output_limit"] = True
                    break
            if exited in ready and outcome["exit"] is None:
                _, status = os.waitpid(pid, 0)
                outcome["exit"] = os.waitstatus_to_exitcode(status)
                self.kill_children()  # background children no longer hold stdout open
        os.close(exited)
        self.kill_children()
        outcome["stdout"] = output[:cap].decode(errors="replace")
        return outcome

    def kill_children(self) -> None:
        """Kill and reap every process of the run but this one (PID 1 of the run)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(-1, signal.SIGKILL)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return


def _report_failure(channel: socket.socket, session: "Session | None", exc: BaseException) -> None:
    started = bool(session and session.candidate_started)
    with contextlib.suppress(OSError):
        channel.sendall(
            wire.dumps({"failed": f"{type(exc).__name__}: {exc}"[:300], "after_candidate": started})
        )


def start(spec: dict, channel_fd: int) -> None:
    """In the child the fork server forked: wait for the host's go, unshare, fork the init."""
    isolation.die_with_parent()
    os.setsid()  # the run's own process group: killpg from the run never reaches the fork server
    channel = socket.socket(fileno=channel_fd)
    try:
        channel.sendall(wire.dumps({"hello": True}))
        channel.settimeout(10)
        reader = channel.makefile("rb")
        go = wire.read_message(reader)
        if not isinstance(go, dict) or go.get("go") is not True:
            os._exit(1)
        isolation.enter_run_namespaces()
    except (OSError, wire.WireError) as exc:
        _report_failure(channel, None, exc)
        os._exit(1)
    init = os.fork()
    if init:
        _, status = os.waitpid(init, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    isolation.die_with_parent()
    isolation.not_dumpable()
    session = None
    try:
        channel.settimeout(None)
        session = Session(spec, channel, reader)
        session.run()
    except BaseException as exc:  # reported to the host; a verdict only if the candidate had run
        _report_failure(channel, session, exc)
        os._exit(1)
    os._exit(0)
