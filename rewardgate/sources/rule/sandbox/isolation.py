"""Per-run steps inside the sandbox cell (standard library + ctypes; runs in the cell).

The boundary to the host is bubblewrap's (see cell.py): a user namespace that
maps one unprivileged host uid, no network, a read-only root holding only
``/usr`` and this folder, no ``/proc``, and a seccomp filter compiled by
libseccomp. Inside it the fork server keeps ``CAP_SYS_ADMIN`` *of the cell's
user namespace only* (it owns nothing on the host) for three cheap steps per
run, done before any code of the response runs:

* :func:`enter_run_namespaces`: fresh mount, PID and IPC namespaces for the
  run, whose init takes every process of the run with it;
* :func:`private_tmpfs`: each sandbox process (examiner, candidate) gets its own
  mount namespace with a fresh tmpfs on ``/tmp`` (a directory of the
  read-only root, so no symlink can be planted there), and starts in it;
* :func:`drop_privileges`: no capabilities left (effective, permitted,
  inheritable, ambient), ``no_new_privs``, then the stricter seccomp program
  that also forbids mounts and new namespaces.
"""

import contextlib
import ctypes
import os
import resource
import signal

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC = 0x00020000, 0x20000000, 0x08000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 4, 15, 38, 22
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, SECCOMP_MODE_FILTER = 47, 4, 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
#: Where each sandbox process gets its private tmpfs (and starts).
WORKDIR = b"/tmp"
SHM = b"/dev/shm"
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (the chain host -> cell -> session -> init)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def dumpable() -> None:
    """Undo :func:`not_dumpable` (inherited from the fork server): until its code arrives, a
    prepared run stays dumpable, so its /proc files are the service's and the host can make
    it the OOM killer's first choice without privileges. No process of the sandbox has a
    /proc or may ptrace (seccomp), so the flag only matters to the host."""
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def not_dumpable() -> None:
    """Same-uid processes can no longer trace this one or open its /proc memory and fds."""
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def set_name(name: str) -> None:
    """This process's name as the host's ``ps`` shows it (``rg-slot``, ``rg-candidate``, ...)."""
    _libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def enter_run_namespaces() -> None:
    """Unshare the run's namespaces (the next child becomes PID 1 of the run)."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")


def private_tmpfs(size_mb: int) -> None:
    """A mount namespace of this process's own with a fresh tmpfs on :data:`WORKDIR`; cd there.

    The mount point is a directory of the cell's read-only root: nobody can have
    replaced it with a symlink, and the tmpfs is new, so nothing in it predates
    this process."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")
    options = f"size={size_mb}m,mode=700,nr_inodes=4096".encode()
    for target in (WORKDIR, SHM):  # /dev/shm too: POSIX shared memory and multiprocessing's semaphores
        _check(_libc.mount(b"tmpfs", target, b"tmpfs", MS_NOSUID | MS_NODEV, options), "tmpfs")
    os.chdir(WORKDIR)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def drop_privileges(seccomp_program: bytes) -> None:
    """Give up every capability for good, then install ``seccomp_program`` (raw BPF).

    ``no_new_privs`` first: no later ``execve`` can gain privileges (file
    capabilities, set-uid bits), which the seccomp filter also requires."""
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    install_seccomp(seccomp_program)


def install_seccomp(program: bytes) -> None:
    """Load a raw BPF program (8-byte ``sock_filter`` records, as libseccomp exports them)."""
    if not program or len(program) % 8:
        raise ValueError("not a BPF program")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def limit(cpu_s: int, memory_mb: int, file_kb: int, processes: int) -> None:
    """rlimits; CPU: SIGXCPU at ``cpu_s``, the kernel's SIGKILL one second later.

    ``RLIMIT_NPROC`` counts the processes of the cell's uid in the cell's own
    user namespace, so it binds one run (one run per cell at a time)."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    for name, value in (
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
        (resource.RLIMIT_FSIZE, file_kb * 1024),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(name, (value, value))


def keep_only_fds(targets: dict[int, int]) -> None:
    """Place ``{target_fd: source_fd}`` (stdio 0-2 included) and close every other descriptor."""
    duplicates = {target: os.dup(source) for target, source in targets.items()}
    for target, duplicate in duplicates.items():
        os.dup2(duplicate, target, inheritable=True)
    highest = max(targets) + 1 if targets else 0
    for fd in range(highest):
        if fd not in targets:
            with contextlib.suppress(OSError):
                os.close(fd)
    os.closerange(highest, 65536)
