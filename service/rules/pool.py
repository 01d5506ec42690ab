"""A pool of killable verifier processes.

Built on ``pebble.ProcessPool``: unlike ``concurrent.futures``, it kills the
worker running a task that exceeds its timeout (or is cancelled) and starts a
replacement, so a hung verifier costs one process restart, never a stuck pool.
Workers are started with ``spawn``: forking a process that already runs
threads (uvicorn, torch) can deadlock the child.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import pebble

from service.errors import ComponentError, VerifierError, VerifierTimeout

T = TypeVar("T")


class VerifierPool:
    """Runs functions in worker processes with a hard per-call time limit.

    ``run`` either returns the function's result or raises:

    * :class:`VerifierTimeout` when the call exceeded ``timeout_s`` (the worker
      was killed and replaced);
    * :class:`VerifierError` when the worker died (segfault, OOM kill) or the
      function raised something that is not a :class:`ComponentError`;
    * the function's own :class:`ComponentError` unchanged.

    Cancelling the awaiting task cancels the call and kills its worker if it
    had started.
    """

    def __init__(
        self,
        workers: int = 0,
        max_tasks_per_worker: int = 0,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.warmed = False
        self._pool = pebble.ProcessPool(
            max_workers=self.workers,
            max_tasks=max_tasks_per_worker,
            initializer=initializer,
            context=multiprocessing.get_context("spawn"),
        )

    async def warm(self) -> None:
        """Return once every worker has started and run its initializer.

        One short task per worker: each is taken by a different idle worker, and
        a worker runs the initializer before its first task."""
        await asyncio.gather(*(self.run(time.sleep, 0.05, timeout_s=600) for _ in range(self.workers)))
        self.warmed = True

    async def run(self, fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
        future = self._pool.schedule(fn, args=args, timeout=timeout_s)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout as exc:
            raise VerifierTimeout(f"verifier exceeded {timeout_s:g}s and was killed") from exc
        except pebble.ProcessExpired as exc:
            raise VerifierError(f"verifier process died (exit code {exc.exitcode})") from exc
        except ComponentError:
            raise
        except Exception as exc:
            raise VerifierError(f"verifier raised {type(exc).__name__}: {exc}") from exc

    @property
    def active(self) -> bool:
        return self._pool.active

    def close(self) -> None:
        """Stop accepting work and terminate the workers (in-flight calls are cancelled)."""
        self._pool.stop()
        self._pool.join(timeout=10)
