"""The fork server: a clean, warm interpreter that prepares one run slot at a time.

Started inside a bubblewrap cell (see cell.py) as ``python -I -S /sandbox/zygote.py FD``
with an empty environment, so no secret of the service is in its memory (and
so in no run forked from it). It loads the seccomp program every sandbox
process installs from ``/sandbox/code.bpf`` once. It imports the session code
and the standard library modules solutions commonly use once, then freezes
them out of the garbage collector's reach, so a forked run neither pays an
interpreter start nor copies the pages a collection would touch.

Control socket (``SOCK_SEQPACKET``, fd ``FD``): the fork server first sends
``{"up": true}`` (the host moves the cell into its cgroup before any run
exists). Then each request ``{"prepare": limits}`` forks a slot
(session.start) with a fresh channel and is answered ``{"slot": pid}``
carrying the host's end of the channel (``SCM_RIGHTS``), or ``{"failed":
reason}``. The host asks for the next slot as soon as it takes one, so the
next run is set up while the current one runs. Zombies of earlier slots are
reaped before each fork. The fork server dies with the process that started
it.
"""

import gc
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


def fork_slot(control: socket.socket, limits: dict) -> None:
    """Fork a slot for ``limits`` and send the host its channel."""
    host_end, slot_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    # Before the slot's first message: the kernel attaches the sender's pid only if the
    # receiving end asks for credentials when the message is sent.
    host_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    try:
        pid = os.fork()
    except OSError as exc:
        host_end.close()
        slot_end.close()
        control.send(json.dumps({"failed": f"fork: {exc}"}).encode())
        return
    if pid == 0:
        control.close()
        host_end.close()
        session.start(limits, slot_end.detach())
        os._exit(1)  # pragma: no cover - start() never returns
    slot_end.close()
    socket.send_fds(control, [json.dumps({"slot": pid}).encode()], [host_end.fileno()])
    host_end.close()


def serve(control: socket.socket) -> None:
    control.send(b'{"up": true}')
    while True:
        try:
            data = control.recv(1 << 16)
        except OSError:
            return
        if not data:
            return  # the host went away
        reap()
        fork_slot(control, json.loads(data)["prepare"])


if __name__ == "__main__":
    isolation.die_with_parent()
    isolation.not_dumpable()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "code.bpf"), "rb") as program:
        session.CODE_FILTER = program.read()
    gc.collect()
    gc.freeze()  # forked runs never scan (and so never copy) what the fork server holds
    serve(socket.socket(fileno=int(sys.argv[1])))
