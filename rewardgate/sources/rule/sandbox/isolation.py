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
    """rlimits; CPU: SIGXCPU at ``cpu_s``, the kernel's SIGKILL one second later."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    for name, value in (
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


# seccomp: the candidate may send any signal but SIGKILL, so a process of the
# session that dies by SIGKILL was killed from outside (OOM killer, operator),
# unless it ran into its CPU hard limit (the host checks its rusage).
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: (syscall number, index of the signal argument) of every way to send a signal.
_SIGNAL_SYSCALLS = {
    "x86_64": ((62, 1), (200, 1), (234, 2), (129, 1), (297, 2), (424, 1)),
    "aarch64": ((129, 1), (130, 1), (131, 2), (138, 1), (240, 2), (424, 1)),
}
_BPF_LD_ABS, _BPF_JEQ, _BPF_RET = 0x20, 0x15, 0x06
_RET_ALLOW, _RET_EPERM = 0x7FFF0000, 0x00050000 | 1
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


class _Filter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _no_sigkill_program(machine: str) -> list[tuple[int, int, int, int]]:
    """BPF (code, jt, jf, k): for each signal syscall, EPERM when its signal argument is SIGKILL.

    Layout: check the architecture; load the syscall number; one JEQ per signal
    syscall jumping to that syscall's block; allow. Each block: load the
    signal argument (its low 32 bits, little-endian), EPERM if SIGKILL, else allow."""
    calls = _SIGNAL_SYSCALLS[machine]
    count = len(calls)
    program = [
        (_BPF_LD_ABS, 0, 0, 4),  # seccomp_data.arch
        (_BPF_JEQ, 1, 0, _AUDIT_ARCH[machine]),
        (_BPF_RET, 0, 0, _RET_ALLOW),  # another ABI (e.g. 32-bit): not filtered
        (_BPF_LD_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    program += [(_BPF_JEQ, count + 3 * index, 0, number) for index, (number, _) in enumerate(calls)]
    program.append((_BPF_RET, 0, 0, _RET_ALLOW))
    for _, argument in calls:
        program += [
            (_BPF_LD_ABS, 0, 0, 16 + 8 * argument),  # seccomp_data.args[argument]
            (_BPF_JEQ, 0, 1, signal.SIGKILL),
            (_BPF_RET, 0, 0, _RET_EPERM),
            (_BPF_RET, 0, 0, _RET_ALLOW),
        ]
    return program


def forbid_sigkill() -> bool:
    """Install the filter in this process (inherited by its children). False where unsupported."""
    machine = os.uname().machine
    if machine not in _SIGNAL_SYSCALLS:
        return False
    instructions = _no_sigkill_program(machine)
    array = (_Filter * len(instructions))(*(_Filter(*i) for i in instructions))
    program = _Program(len(instructions), array)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) == 0
