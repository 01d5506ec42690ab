"""Cancelling a verifier task without killing the verifier process.

Killing a worker to stop one task costs a process start and a warm-up (seconds
for math-verify); under a burst of cancelled requests that starves every other
request. Instead a running task is left to finish on its own (its rule
enforces a time limit), and what it started that must not outlive the
request — a code sandbox — registers here so that the service can kill just
that.

The handshake is two files per task in a directory private to the pool
(``TOKEN.cancel`` written by the service, ``TOKEN.pid`` by the worker). The
service writes the marker, then kills the registered pid; the worker writes
its pid, then checks the marker. Whichever comes second sees the other, so a
cancellation is never lost between the two.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

_task_dir: Path | None = None
_token: str | None = None
_registered = False


def set_task_dir(task_dir: Path) -> None:
    """In a verifier process, at start: where the handshake files live."""
    global _task_dir
    _task_dir = task_dir


def begin_task(token: str | None) -> None:
    global _token
    _token = token


def is_cancelled(token: str) -> bool:
    return _task_dir is not None and (_task_dir / f"{token}.cancel").exists()


def end_task() -> None:
    """Costs nothing for tasks that registered nothing (the common case)."""
    global _token
    if _registered:
        unregister()
    _token = None


def register(pid: int) -> bool:
    """In a verifier process: ``pid`` is killed if the current task is cancelled.

    Returns False when the task was already cancelled (the caller stops)."""
    global _registered
    if _task_dir is None or _token is None:
        return True
    (_task_dir / f"{_token}.pid").write_text(str(pid))
    _registered = True
    return not (_task_dir / f"{_token}.cancel").exists()


def unregister() -> None:
    global _registered
    if _registered and _task_dir is not None and _token is not None:
        with contextlib.suppress(OSError):
            (_task_dir / f"{_token}.pid").unlink()
    _registered = False


def cancel(task_dir: Path, token: str) -> None:
    """In the service: mark ``token`` cancelled and kill what it registered.

    The caller removes the marker with :func:`forget` once the task is done."""
    (task_dir / f"{token}.cancel").touch()
    try:
        pid = int((task_dir / f"{token}.pid").read_text())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def forget(task_dir: Path, token: str) -> None:
    with contextlib.suppress(OSError):
        (task_dir / f"{token}.cancel").unlink()
