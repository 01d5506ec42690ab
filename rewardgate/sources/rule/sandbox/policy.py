"""The sandbox's seccomp policy, compiled by libseccomp (through pyseccomp) on the host.

Two programs, both exported as raw BPF:

* the **cell** program, which bubblewrap installs on the fork server and
  everything under it (``--seccomp FD``);
* the **code** program, which each examiner and candidate process stacks on top
  after dropping its capabilities (isolation.py).

Both kill the process on any syscall ABI but the native one: the 32-bit
``int 0x80`` ABI and x32 on x86-64 (libseccomp's architecture check, with
the bad-architecture action set to kill the process). Both deny, with
``EPERM``, syscalls no Python program needs and that widen the kernel surface
or reach across processes (:data:`DENIED`). The code program also denies what
only the fork server needs: mounts and new namespaces.

Denied rather than allowed by name: CPython and the C extensions a solution
may load use a wide and version-dependent set of syscalls, and an allow-list
that misses one fails honest solutions at random.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os

import pyseccomp as seccomp

#: Denied everywhere in the sandbox: tracing and cross-process memory, kernel
#: modules and keyrings, BPF and perf, io_uring, userfaultfd, clock and
#: system administration, handle-based opens, SysV and legacy ABIs.
DENIED = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "quotactl",
    "vhangup",
    "uselib",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "fanotify_init",
    "ioperm",
    "iopl",
    "modify_ldt",
    "personality",
    "pivot_root",
    "chroot",
    "move_pages",
    "migrate_pages",
    "mbind",
    "set_mempolicy",
)
#: Denied in examiner and candidate processes only (the fork server needs them per run).
DENIED_TO_CODE = (
    "mount",
    "umount2",
    "unshare",
    "setns",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
)
#: clone flags that create namespaces: NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
_CLONE_NEW = (0x80, 0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000)


def _base_filter() -> seccomp.SyscallFilter:
    policy = seccomp.SyscallFilter(seccomp.ALLOW)
    policy.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    with contextlib.suppress(AttributeError, RuntimeError, ValueError):  # libseccomp >= 2.5: a binary search
        policy.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    for name in DENIED:
        _deny(policy, name)
    return policy


def _deny(policy: seccomp.SyscallFilter, name: str, *args) -> None:
    with contextlib.suppress(RuntimeError, ValueError):  # not a syscall of this architecture
        policy.add_rule(seccomp.ERRNO(errno.EPERM), name, *args)


def _export(policy: seccomp.SyscallFilter) -> bytes:
    with os.fdopen(os.memfd_create("seccomp"), "w+b") as sink:
        policy.export_bpf(sink)
        sink.seek(0)
        return sink.read()


@functools.cache
def cell_program() -> bytes:
    """Raw BPF for the whole cell (fork server included)."""
    return _export(_base_filter())


@functools.cache
def code_program() -> bytes:
    """Raw BPF stacked on each examiner and candidate process."""
    policy = _base_filter()
    for name in DENIED_TO_CODE:
        _deny(policy, name)
    for flag in _CLONE_NEW:
        _deny(policy, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
    with contextlib.suppress(RuntimeError, ValueError):
        policy.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return _export(policy)
