"""A pool of killable verifier processes that heals itself.

Built on ``pebble.ProcessPool``, which kills the worker running a task that
exceeds its timeout and starts a replacement, so a hung verifier costs one
process restart, never a stuck pool. Workers are started with ``spawn``:
forking a process that already runs threads (uvicorn, torch) can deadlock the
child.

Two things pebble does not do, done here:

* **Healing.** A worker killed from outside (OOM killer, ``kill -9``) can leave
  a pebble pool in its error state for good. :meth:`VerifierPool.supervise`
  notices within a second, replaces the whole pool and warms the new one;
  :attr:`ready` is False meanwhile, so ``/readyz`` tells the truth.
* **Cancellation that spares the worker.** pebble kills a worker to cancel a
  task, even one that was only queued. So pebble is handed no more tasks than
  it has workers (the rest wait here, where cancelling is free); a cancelled
  task that was handed over is skipped when it starts, or, if it is running,
  left to finish within its own time limit (its result is discarded) while
  whatever it registered with :mod:`rewardgate.sources.rule.cancellation` (a code
  sandbox) is killed at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pebble

from rewardgate.errors import ComponentError, VerifierError, VerifierTimeout, VerifierUnavailable
from rewardgate.sources.admission_queue import MIN_SLACK_S, QueueEntry, QueueShedder
from rewardgate.sources.rule import cancellation

T = TypeVar("T")
log = logging.getLogger(__name__)
#: Consecutive failed replacements after which the pool cannot recover by itself.
MAX_FAILED_RESTARTS = 3


class VerifierPool:
    """Runs functions in worker processes with a hard per-call time limit.

    ``run`` either returns the function's result or raises:

    * :class:`VerifierTimeout` when the call exceeded ``timeout_s`` (the worker
      was killed and replaced);
    * :class:`VerifierError` when the worker died (segfault, OOM kill) or the
      function raised something that is not a :class:`ComponentError`;
    * the function's own :class:`ComponentError` unchanged.
    """

    def __init__(
        self,
        workers: int = 0,
        max_tasks_per_worker: int = 0,
        initializer: Callable[[], None] | None = None,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.warmed = False
        self.restarts = 0
        self.failed_restarts = 0
        self._max_tasks = max_tasks_per_worker
        self._initializer = initializer
        self._on_restart = on_restart
        self._task_dir = Path(tempfile.mkdtemp(prefix="rewardgate-verifier-"))
        self._closed = False
        self._pool = self._new_pool()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._running = 0
        self._waiting = 0
        #: Expected work queued here; refuses work that would start too late (sources/admission_queue.py).
        self.shedder = QueueShedder(self.workers, "verifier pool")

    def _new_pool(self) -> pebble.ProcessPool:
        return pebble.ProcessPool(
            max_workers=self.workers,
            max_tasks=self._max_tasks,
            initializer=functools.partial(_start_worker, self._task_dir, self._initializer),
            context=multiprocessing.get_context("spawn"),
        )

    @property
    def busy(self) -> int:
        """Tasks handed to workers and not finished (abandoned ones included)."""
        return self._running

    @property
    def queued(self) -> int:
        """Calls waiting for a free worker."""
        return self._waiting

    @property
    def active(self) -> bool:
        return self._pool.active

    @property
    def ready(self) -> bool:
        """Workers running and warmed up."""
        return self._pool.active and self.warmed

    @property
    def recoverable(self) -> bool:
        """False once replacing the pool failed :data:`MAX_FAILED_RESTARTS` times in a row."""
        return self.failed_restarts < MAX_FAILED_RESTARTS

    async def warm(self) -> None:
        """Return once every worker has started and run its initializer.

        One short task per worker: each is taken by a different idle worker, and
        a worker runs the initializer before its first task."""
        await asyncio.gather(*(self.run(time.sleep, 0.05, timeout_s=600) for _ in range(self.workers)))
        self.warmed = True

    async def supervise(self, interval_s: float = 1.0) -> None:
        """Replace a broken pool (and warm the new one) until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            if self._pool.active or self._closed:
                continue
            self._replace()
            try:
                await self.warm()
                self.failed_restarts = 0
            except Exception:
                self.failed_restarts += 1
                log.exception("the replacement verifier pool failed to warm up")

    def _replace(self) -> None:
        broken, self._pool = self._pool, self._new_pool()
        self.warmed = False
        self.restarts += 1
        log.warning("verifier pool broken (a worker died unexpectedly): replaced it")
        if self._on_restart is not None:
            self._on_restart()
        threading.Thread(target=_stop, args=(broken,), name="stop-broken-pool", daemon=True).start()

    def _schedule(self, fn: Callable[..., Any], args: tuple, timeout_s: float, token: str):
        if not self._pool.active and not self._closed:
            self._replace()
        try:
            return self._pool.schedule(_run_task, args=(token, fn, args), timeout=timeout_s)
        except RuntimeError as exc:  # broke between the check and the call
            raise VerifierUnavailable("the verifier pool is restarting") from exc

    def _free_slots(self) -> asyncio.Semaphore:
        """One slot per worker, for the running loop (a pool may outlive a loop)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.workers))
        return self._slots[1]

    def check_entry(self, kind: str, tasks: int, deadline: float) -> QueueEntry:
        """Raise Overloaded if ``tasks`` calls of ``kind`` could not all be done by ``deadline``;
        else the request's place in the queue, refused later if it can no longer finish in time
        (:meth:`QueueShedder.check_entry`): pass it to each :meth:`run`, close it at the end."""
        return self.shedder.check_entry(kind, tasks, deadline)

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout_s: float,
        kind: str = "",
        deadline: float | None = None,
        entry: QueueEntry | None = None,
    ) -> T:
        """``fn(*args)`` in a worker. With a ``deadline`` (monotonic), a call that could no longer
        finish by it is not started: it raises Overloaded instead (see sources/admission_queue.py);
        ``kind`` names what is measured (calls of one kind take alike); ``entry`` is the request's
        place in the queue (:meth:`check_entry`), told when this call leaves the queue."""
        shedder = self.shedder
        slots = self._free_slots()
        added_s = shedder.enter(kind)
        token = uuid.uuid4().hex
        try:
            future = await self._start(fn, args, timeout_s, token, slots, kind, deadline)
        except BaseException:
            shedder.left(added_s)
            if entry is not None:
                entry.task_left()
            raise
        self._running += 1
        shedder.started(token, kind)
        if entry is not None:
            entry.task_started()
        loop = asyncio.get_running_loop()
        future.add_done_callback(
            lambda done: _call_soon(
                loop, self._finished, slots, token, kind, added_s, time.monotonic(), _worker_seconds(done)
            )
        )
        try:
            result, _seconds = await _wait(future)
            return result
        except asyncio.CancelledError:
            self._abandon(future, token)
            raise
        except concurrent.futures.TimeoutError as exc:
            raise VerifierTimeout(f"verifier exceeded {timeout_s:g}s and was killed") from exc
        except pebble.ProcessExpired as exc:
            raise VerifierError(f"verifier process died (exit code {exc.exitcode})") from exc
        except ComponentError:
            raise
        except RuntimeError as exc:  # pebble's "Unexpected error within the Pool"
            raise VerifierUnavailable("the verifier pool failed; it is being replaced") from exc
        except Exception as exc:
            raise VerifierError(f"verifier raised {type(exc).__name__}: {exc}") from exc

    async def _start(
        self,
        fn: Callable[..., Any],
        args: tuple,
        timeout_s: float,
        token: str,
        slots: asyncio.Semaphore,
        kind: str,
        deadline: float | None,
    ) -> pebble.ProcessFuture:
        """A free worker (:meth:`_acquire`), then the call scheduled on it."""
        self._waiting += 1
        try:
            await self._acquire(slots, kind, deadline)
        finally:
            self._waiting -= 1
        try:
            return self._schedule(fn, args, timeout_s, token)
        except BaseException:
            slots.release()
            raise

    async def _acquire(self, slots: asyncio.Semaphore, kind: str, deadline: float | None) -> None:
        """A free worker, waited for no longer than a call due at ``deadline`` could still use it,
        and kept only if the call can still finish by then (else Overloaded, the slot freed)."""
        if deadline is None:
            await slots.acquire()
            return
        while True:
            # Until the kind is measured, wait up to the deadline's margin; then look again
            # with what was measured meanwhile (the estimate may have grown or shrunk).
            wait = self.shedder.give_up_in(kind, deadline)
            if wait is None:
                wait = deadline - time.monotonic() - MIN_SLACK_S
            if wait <= 0:
                raise self.shedder.too_late(kind)
            try:
                async with asyncio.timeout(wait):
                    await slots.acquire()
                break
            except TimeoutError:
                continue
        try:
            self.shedder.check_start(kind, deadline)
        except BaseException:
            slots.release()
            raise

    def _finished(
        self,
        slots: asyncio.Semaphore,
        token: str,
        kind: str,
        added_s: float,
        ended_at: float,
        seconds: float | None,
    ) -> None:
        self._running -= 1
        self.shedder.finished(token, kind, added_s, ended_at, seconds)
        slots.release()

    def _abandon(self, future: pebble.ProcessFuture, token: str) -> None:
        """Never ``future.cancel()``: pebble would kill the worker that takes it."""
        cancellation.cancel(self._task_dir, token)  # skipped if not started; its sandbox killed if running
        future.add_done_callback(lambda _: cancellation.forget(self._task_dir, token))

    def close(self) -> None:
        """Stop accepting work and terminate the workers (in-flight calls are cancelled)."""
        self._closed = True
        _stop(self._pool)
        shutil.rmtree(self._task_dir, ignore_errors=True)


def _stop(pool: pebble.ProcessPool) -> None:
    with contextlib.suppress(Exception):
        pool.stop()
        pool.join(timeout=10)


async def _wait(future: concurrent.futures.Future) -> Any:
    """Await ``future`` without cancelling it when the awaiting task is cancelled
    (``asyncio.wrap_future`` would, and pebble kills a worker to cancel)."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def transfer(done: concurrent.futures.Future) -> None:
        if waiter.done():
            return
        if done.cancelled():
            waiter.cancel()
        elif done.exception() is not None:
            waiter.set_exception(done.exception())
        else:
            waiter.set_result(done.result())

    future.add_done_callback(lambda done: _call_soon(loop, transfer, done))
    return await waiter


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """From a pebble thread; a closed loop has nobody left to tell."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)


def _start_worker(task_dir: Path, initializer: Callable[[], None] | None) -> None:
    cancellation.set_task_dir(task_dir)
    if initializer is not None:
        initializer()


def _run_task(token: str, fn: Callable[..., T], args: tuple) -> tuple[T, float] | None:
    """``(fn(*args), seconds it ran)``: the time measured in the worker leaves out what the
    shedder must not count as a task's cost (a replacement worker starting, the loop's lag)."""
    if cancellation.is_cancelled(token):
        return None  # abandoned before it started: nobody waits for the result
    cancellation.begin_task(token)
    started = time.perf_counter()
    try:
        return fn(*args), time.perf_counter() - started
    finally:
        cancellation.end_task()


def _worker_seconds(done: concurrent.futures.Future) -> float | None:
    """The seconds a finished task ran in its worker; None if it failed or was skipped."""
    if done.cancelled() or done.exception() is not None:
        return None
    result = done.result()
    return result[1] if isinstance(result, tuple) else None
