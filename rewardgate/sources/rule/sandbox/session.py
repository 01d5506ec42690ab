"""One sandbox session: the init process that runs a candidate against its tests.

Standard library only; forked from the zygote, so it starts warm. Talks to the
host over ``channel`` (one JSON line per message):

1. sends ``{"protections": [...]}`` once the namespaces and mounts are up,
   then reads ``{"source": ...}`` (the zygote never holds the code);
2. in call and tests mode, forks the candidate *before* it receives the tests,
   so the candidate's memory never holds them; then reads the payload
   (``{"kind": "tests", "tests"}`` or ``{"kind": "calls", "fn_name", "inputs"}``),
   forks the judge and forwards the judge's records;
3. in stdio mode, reads ``{"inputs": [...]}`` (never the expected outputs,
   which stay on the host) and forwards ``{"case": {...}}`` per input;
4. sends ``{"killed": WHO}`` if the candidate or the judge died by SIGKILL
   below its CPU limit: it cannot send SIGKILL itself (seccomp), so that
   came from outside (the OOM killer, an operator) and is no verdict;
5. sends ``{"end": true}``; its exit takes every process of the session with it.

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


class SetupFailed(Exception):
    """A sandbox process failed before running anything of the response."""


class Session:
    def __init__(self, spec: dict, channel_fd: int, namespaced: bool) -> None:
        self.spec = spec
        self.limits = spec["limits"]
        self.channel = socket.socket(fileno=channel_fd)
        self.reader = self.channel.makefile("rb")
        self.namespaced = namespaced
        self.deadline = time.monotonic() + spec["budget_s"]
        self.devnull = os.open(os.devnull, os.O_RDWR)

    def send(self, **message) -> None:
        self.channel.sendall(wire.dumps(message))

    def receive_payload(self) -> dict:
        self.channel.settimeout(max(0.01, self.deadline - time.monotonic()))
        message = wire.read_message(self.reader)
        if not isinstance(message, dict):
            raise wire.WireError("no payload from the host")
        return message

    def run(self, protections: list[str]) -> None:
        self.send(protections=protections)
        self.source = str(self.receive_payload()["source"])
        if self.spec["mode"] == "stdio":
            self.run_stdio()
        else:
            self.run_judged()
        self.send(end=True)

    def _fork(self, fds: dict[int, int], uid: int, workdir: str, body) -> int:
        """Fork a child that keeps only ``fds``, drops to ``uid`` under the limits and runs ``body``.

        Returns once the child confirmed its set-up over a pipe that ``body`` never
        holds, so code under test cannot fake a set-up failure (to dodge its score)
        and a real one is never mistaken for the code's doing.

        Raises:
            SetupFailed: the child could not drop privileges or apply its limits."""
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                isolation.keep_only_fds({**fds, _READY_FD: ready_write})
                if not self.namespaced:
                    os.setpgid(0, 0)
                isolation.become(uid, workdir)
                limits = self.limits
                isolation.limit(limits["cpu_s"], limits["memory_mb"], limits["file_kb"], limits["processes"])
                isolation.forbid_sigkill()
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
            raise SetupFailed(f"a sandbox process could not be set up (uid {uid})")
        return pid

    def run_judged(self) -> None:
        judge_uid, candidate_uid = self.spec["uids"]
        judge_end, candidate_end = socket.socketpair()
        source = self.source
        candidate_pid = self._fork(
            {0: self.devnull, 1: self.devnull, 2: self.devnull, 3: candidate_end.fileno()},
            candidate_uid,
            "/tmp/candidate",
            lambda: candidate.serve(3, source),
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
            judge_uid,
            "/tmp/judge",
            run_judge,
        )
        os.close(results)
        judge_end.close()
        candidate_gone = False
        with open(records, "rb") as stream:
            for line in iter(lambda: stream.readline(wire.MAX_LINE_BYTES), b""):
                candidate_gone = candidate_gone or line.startswith(b'{"gone"')
                self.channel.sendall(line if line.endswith(b"\n") else line + b"\n")
        if self.killed_from_outside(*os.wait4(judge_pid, 0)[1:]):
            self.send(killed="judge")
        elif candidate_gone and self.reaped_killed(candidate_pid):
            self.send(killed="candidate")
        self.kill_children()

    def reaped_killed(self, pid: int, wait_s: float = 0.2) -> bool:
        """Whether ``pid`` (which stopped answering) died killed from outside; it may take a moment
        between its socket closing and its exit status being there."""
        exited = os.pidfd_open(pid)
        try:
            if not select.select([exited], [], [], wait_s)[0]:
                return False  # still alive: it closed its socket itself
            return self.killed_from_outside(*os.wait4(pid, 0)[1:])
        finally:
            os.close(exited)

    def killed_from_outside(self, status: int, usage) -> bool:
        """SIGKILLed, and not by the kernel at the CPU hard limit (the one SIGKILL it sends)."""
        if not os.WIFSIGNALED(status) or os.WTERMSIG(status) != signal.SIGKILL:
            return False
        return usage.ru_utime + usage.ru_stime < self.limits["cpu_s"] + 0.5

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
            self.spec["uids"][1],
            "/tmp/candidate",
            lambda: candidate.run_program(source),
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
                _, status, usage = os.wait4(pid, 0)
                outcome["exit"] = os.waitstatus_to_exitcode(status)
                outcome["killed"] = self.killed_from_outside(status, usage)
                self.kill_children()  # background children no longer hold stdout open
        os.close(exited)
        self.kill_children()
        outcome["stdout"] = output[:cap].decode(errors="replace")
        return outcome

    def kill_children(self) -> None:
        """Kill and reap every process of the session but this one."""
        try:
            if self.namespaced:
                os.kill(-1, signal.SIGKILL)  # as PID 1: every other process of the namespace
            else:
                for pid in _children():
                    os.kill(pid, signal.SIGKILL)
                    os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return


def _children() -> list[int]:
    path = f"/proc/{os.getpid()}/task/{os.getpid()}/children"
    try:
        with open(path) as handle:
            return [int(pid) for pid in handle.read().split()]
    except OSError:
        return []


def start(spec: dict, channel_fd: int) -> None:
    """In the child the zygote forked: unshare, fork the init, and exit with it."""
    isolation.die_with_parent()
    try:
        protections = isolation.enter_namespaces()
    except OSError as exc:
        os.write(channel_fd, wire.dumps({"failed": f"namespaces: {exc.strerror or exc}"}))
        os._exit(1)
    init = os.fork()
    if init:
        _, status = os.waitpid(init, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    isolation.die_with_parent()
    isolation.not_dumpable()
    try:
        if protections:
            isolation.mount_private_filesystems()
        Session(spec, channel_fd, bool(protections)).run(
            [*protections, "rlimits (cpu, memory, file size, processes)", "judge outside the candidate"]
        )
    except BaseException as exc:  # reported to the host as a sandbox failure, never a verdict
        with contextlib.suppress(OSError):
            os.write(channel_fd, wire.dumps({"failed": f"{type(exc).__name__}: {exc}"[:300]}))
        os._exit(1)
    os._exit(0)
