"""Sets up the sandbox, then execs the harness as the unprivileged user.

Started by :mod:`service.sandbox.runner` as a fresh process (never a
``preexec_fn`` inside a threaded server). Reads a JSON spec on stdin:
``{"uid", "solution", "tests", "cpu_s", "memory_mb", "file_kb", "processes",
"result_fd"}``.

As root it: unshares the network namespace (no interface is up: no network)
and the mount namespace, mounts private tmpfs over /tmp, /var/tmp and /dev/shm
(the only writable places; the work directory lives there), applies rlimits,
and drops to ``uid`` (unique per concurrent sandbox, so RLIMIT_NPROC binds and
other processes cannot be signalled). Without root it applies the rlimits
only. Prints the enforced protections on stderr's first line.
"""

import ctypes
import json
import os
import resource
import sys
from pathlib import Path

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_REC, MS_PRIVATE = 16384, 1 << 18
HARNESS = Path(__file__).with_name("harness.py")


def isolate(libc) -> list[str]:
    if libc.unshare(CLONE_NEWNET | CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making mounts private failed")
    for target in (b"/tmp", b"/var/tmp", b"/dev/shm"):
        if os.path.isdir(target) and libc.mount(b"tmpfs", target, b"tmpfs", 0, b"size=64m,mode=1777") != 0:
            raise OSError(ctypes.get_errno(), f"tmpfs on {target.decode()} failed")
    return ["network namespace", "private tmpfs", "unprivileged uid"]


def limit(spec: dict) -> None:
    for name, value in (
        (resource.RLIMIT_CPU, spec["cpu_s"]),
        (resource.RLIMIT_AS, spec["memory_mb"] * 1024 * 1024),
        (resource.RLIMIT_FSIZE, spec["file_kb"] * 1024),
        (resource.RLIMIT_NPROC, spec["processes"]),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(name, (value, value))


def main() -> None:
    spec = json.loads(sys.stdin.read())
    # Read everything from the host before isolating: the private tmpfs over
    # /tmp hides this file's directory when the checkout lives under /tmp.
    harness = HARNESS.read_text()
    root = os.geteuid() == 0
    protections = isolate(ctypes.CDLL(None, use_errno=True)) if root else []
    work = Path("/tmp/work") if root else Path(os.environ["SANDBOX_WORKDIR"])
    work.mkdir(mode=0o700, exist_ok=True)
    (work / "solution.py").write_text(spec["solution"])
    (work / "tests.py").write_text(spec["tests"])
    (work / "harness.py").write_text(harness)
    if root:
        for path in (work, *work.iterdir()):
            os.chown(path, spec["uid"], spec["uid"])
    os.chdir(work)
    limit(spec)
    if root:
        os.setgroups([])
        os.setgid(spec["uid"])
        os.setuid(spec["uid"])
    print(
        "protections: " + ", ".join([*protections, "rlimits (cpu, memory, file size, processes)"]),
        file=sys.stderr,
        flush=True,
    )
    argv = [sys.executable, "-I", "-S", "harness.py", str(spec["result_fd"])]
    os.execve(sys.executable, argv, {"PATH": "/usr/bin:/bin"})


main()
