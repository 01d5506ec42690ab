"""Kernel-level containment for one sandbox session (standard library + ctypes).

As root a session gets fresh network, mount, PID, IPC and UTS namespaces: no
network (no interface is up; abstract unix sockets are per network
namespace), private tmpfs over every world-writable place and over /run (no
host unix sockets), a /proc showing only the session's processes of the
caller's own uid (``hidepid=2``), and a PID namespace whose init takes every
process of the session with it when it dies (fork bombs and ``setsid``
escapees included). Code runs under unprivileged uids with rlimits. Without
root only the rlimits apply; :func:`enter_namespaces` says which held.
"""

import contextlib
import ctypes
import os
import resource
import signal

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x00020000, 0x40000000, 0x20000000
CLONE_NEWIPC, CLONE_NEWUTS = 0x08000000, 0x04000000
MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 16384, 1 << 18, 2, 4
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
_PRIVATE_DIRS = (b"/tmp", b"/var/tmp", b"/dev/shm", b"/run")
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (the chain host -> zygote -> session)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def not_dumpable() -> None:
    """Same-uid processes can no longer trace this one or open its /proc memory and fds."""
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def enter_namespaces() -> list[str]:
    """Unshare the session namespaces (the next child becomes PID 1). Root only."""
    if os.geteuid() != 0:
        return []
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if _libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")
    return ["network namespace", "pid namespace", "private tmpfs and /run", "unprivileged uids"]


def mount_private_filesystems() -> None:
    """In the session's init: private mounts, tmpfs over writable dirs, own /proc."""
    _mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
    for target in _PRIVATE_DIRS:
        if os.path.isdir(target):
            _mount(b"tmpfs", target, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64m,mode=1777")
    _mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV, b"hidepid=2")


def _mount(source, target, fstype, flags, data) -> None:
    if _libc.mount(source, target, fstype, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount on {target!r} failed")


def limit(cpu_s: int, memory_mb: int, file_kb: int, processes: int) -> None:
    for name, value in (
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
        (resource.RLIMIT_FSIZE, file_kb * 1024),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(name, (value, value))


def become(uid: int, workdir: str) -> None:
    """Drop to ``uid`` (root only) in a fresh private ``workdir``."""
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(workdir, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(workdir)


def keep_only_fds(targets: dict[int, int]) -> None:
    """Place ``{target_fd: source_fd}`` (stdio 0-2 included) and close every other descriptor."""
    duplicates = {target: os.dup(source) for target, source in targets.items()}
    for target, duplicate in duplicates.items():
        os.dup2(duplicate, target, inheritable=True)
    highest = max(targets) + 1 if targets else 0
    for fd in range(highest):
        if fd not in targets:
            _close(fd)
    os.closerange(highest, 65536)


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
