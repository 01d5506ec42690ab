"""A cocoon: a sandbox process set up before it has anything to run.

Standard library only; runs inside the cell. A run's init (session.py) forks
its cocoons while the run is still only a prepared slot, before any code of
a response exists. Each cocoon, in order:

1. keeps only its instruction socket and ``/dev/null`` on 0-2;
2. enters a mount namespace of its own with a fresh tmpfs on ``/tmp`` and
   ``/dev/shm`` and starts there (isolation.private_tmpfs);
3. takes the run's rlimits, drops every capability, sets ``no_new_privs``
   and installs the code seccomp program (isolation.drop_privileges);
4. confirms over a pipe that nothing it later runs ever holds, then waits.

Its one instruction (a ``SOCK_SEQPACKET`` record from the init) names a role
and carries its body in a memfd plus the descriptors the role needs
(``SCM_RIGHTS``). The cocoon places those descriptors, closes everything
else and becomes the role: ``candidate`` (the response's module, answering
the examiner), ``examiner`` (the tests) or ``program`` (stdio mode). So all set-up
happens off the item's critical path, and a set-up failure is seen before
any code of the response runs (the init reports it as the sandbox's).
"""

import json
import os
import signal
import socket

try:
    from . import candidate, examiner, isolation
except ImportError:  # pragma: no cover - the zygote's import path
    import candidate
    import examiner
    import isolation

_INSTRUCTIONS_FD = 3
_READY_FD = 9
_MAX_FDS = 8


class SetupFailed(Exception):
    """A sandbox process failed before running anything of the response."""


class Cocoon:
    """The init's handle on one waiting cocoon."""

    def __init__(self, pid: int, instructions: socket.socket) -> None:
        self.pid = pid
        self.instructions = instructions

    @classmethod
    def make(cls, limits: dict, program: bytes) -> "Cocoon":
        """Fork a cocoon under ``limits`` with seccomp ``program``; return once it confirmed its set-up.

        Raises:
            SetupFailed: the cocoon could not be forked or set up."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ready_read, ready_write = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (ready_read, ready_write):
                os.close(fd)
            ours.close()
            theirs.close()
            raise SetupFailed(f"fork: {exc}") from None
        if pid == 0:
            _become_cocoon(theirs.fileno(), ready_write, limits, program)
        theirs.close()
        os.close(ready_write)
        confirmed = os.read(ready_read, 1)
        os.close(ready_read)
        if confirmed != b"1":
            ours.close()
            raise SetupFailed("a sandbox process could not be set up")
        return cls(pid, ours)

    def instruct(self, role: str, body, fds: dict[int, int], budget_s: float = 0.0) -> bool:
        """Hand the cocoon its role, ``body`` (JSON data) and ``{target_fd: our_fd}``.

        Returns False if the cocoon was gone before it got the instruction (so it ran nothing)."""
        memfd = os.memfd_create("instruction")
        try:
            os.write(memfd, json.dumps(body).encode())
            os.lseek(memfd, 0, os.SEEK_SET)
            header = json.dumps({"role": role, "targets": list(fds), "budget_s": budget_s}).encode()
            socket.send_fds(self.instructions, [header], [memfd, *fds.values()])
            return True
        except OSError:
            return False
        finally:
            os.close(memfd)
            self.instructions.close()


def _become_cocoon(instructions_fd: int, ready_fd: int, limits: dict, program: bytes) -> None:
    """In the forked child: set up, confirm, wait for the instruction and run it; never returns."""
    try:
        isolation.set_name("rg-cocoon")
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the init's is the default
        devnull = os.open(os.devnull, os.O_RDWR)
        kept = {0: devnull, 1: devnull, 2: devnull, _INSTRUCTIONS_FD: instructions_fd, _READY_FD: ready_fd}
        isolation.keep_only_fds(kept)
        isolation.private_tmpfs(limits["tmpfs_mb"])
        isolation.limit(limits["cpu_s"], limits["memory_mb"], limits["file_kb"], limits["processes"])
        isolation.drop_privileges(program)
        os.write(_READY_FD, b"1")
        os.close(_READY_FD)
        role, body, budget_s = _await_instruction()
    except BaseException:
        os._exit(1)
    try:
        isolation.not_dumpable()  # dumpable while prepared (session.py); not once it runs anything
        isolation.set_name(f"rg-{role}")
        _ROLES[role](body, budget_s)
    finally:
        os._exit(0)


def _await_instruction() -> tuple[str, object, float]:
    """Receive the instruction, place its descriptors (``/dev/null`` stays on 0-2 unless
    replaced), close every other one."""
    channel = socket.socket(fileno=_INSTRUCTIONS_FD)
    data, fds, _, _ = socket.recv_fds(channel, 1 << 12, _MAX_FDS)
    channel.detach()  # closed below with every descriptor the role is not given
    if not data:
        os._exit(0)  # the init is gone: nothing to run
    header = json.loads(data)
    memfd, passed = fds[0], fds[1:]
    with open(memfd, "rb") as stream:
        body = json.loads(stream.read())
    targets = header["targets"]
    if header["role"] not in _ROLES or len(targets) != len(passed):
        raise SetupFailed("malformed instruction")
    isolation.keep_only_fds({0: 0, 1: 1, 2: 2, **dict(zip(targets, passed, strict=True))})
    return header["role"], body, float(header["budget_s"])


def _examine(payload, budget_s: float) -> None:
    examiner.main(3, 4, payload, budget_s)


_ROLES = {
    "candidate": lambda source, _: candidate.serve(3, source),
    "examiner": _examine,
    "program": lambda source, _: candidate.run_program(source),
}
