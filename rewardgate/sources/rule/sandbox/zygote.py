"""The fork server: a clean, warm interpreter that forks one sandbox session per run.

Started inside a bubblewrap cell (see cell.py) as ``python -I -S /sandbox/zygote.py FD``
with an empty environment, so no secret of the service is in its memory (and
so in no session forked from it). It loads the seccomp program every sandbox
process installs from ``/sandbox/code.bpf`` once. It imports the session code and the standard
library modules solutions commonly use once; a fork then costs a few
milliseconds instead of an interpreter start per run.

Control socket (``SOCK_SEQPACKET``, fd ``FD``): each request is one JSON
record ``{"mode", "limits", "budget_s"}`` carrying the run's channel
socket as an ``SCM_RIGHTS`` fd; the reply is ``{"pid": n}``. Zombies of
earlier runs are reaped before each fork (the host kills a run's pid before
asking for the next, so a pid is never reused under it). The zygote dies with
the process that started it.
"""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import isolation
import session

# Warm imports: modules a solution or a test commonly imports load from memory.
WARM_MODULES = (
    "array",
    "bisect",
    "collections",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "math",
    "operator",
    "random",
    "re",
    "statistics",
    "string",
    "typing",
    "unittest",
)
for _name in WARM_MODULES:
    __import__(_name)


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(control: socket.socket) -> None:
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        except OSError:
            return
        if not data:
            return  # the host went away
        reap()
        spec = json.loads(data)
        pid = os.fork()
        if pid == 0:
            control.close()
            session.start(spec, fds[0])
            os._exit(1)  # pragma: no cover - start() never returns
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    isolation.die_with_parent()
    isolation.not_dumpable()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "code.bpf"), "rb") as program:
        session.CODE_FILTER = program.read()
    serve(socket.socket(fileno=int(sys.argv[1])))
