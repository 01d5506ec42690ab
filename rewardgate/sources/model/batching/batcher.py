"""The asyncio dynamic batcher: one per model.

Callers ``enqueue`` items and await the returned futures (or ``enqueue_group``
them and await one future for all); a single collector
task forms batches with :class:`~rewardgate.sources.model.batching.queue.PendingQueue` and runs
them through ``run_batch`` with at most ``max_concurrent_batches`` in flight.

When a batch goes: a full one (``max_batch_items`` or ``max_batch_tokens``)
as soon as a slot is free; a partial one once its oldest item has waited
``max_wait_ms`` and, unless ``overlap_partial_batches``, only when no other
batch is in flight. So the slots beyond the first pipeline full batches (the
next one is on its way while the backend computes), while single items that
arrive during a batch gather into one larger batch instead of being sent in
small pieces that would queue behind it at the backend (docs/benchmarks.md:
single-item callers over Triton). ``overlap_partial_batches`` suits a backend
with several parallel instances, where a partial batch need not wait.

Guarantees:

* the queue is bounded: ``enqueue`` raises :class:`Overloaded` (all-or-nothing
  for a group of items) instead of growing without limit;
* cancelled or expired items are dropped before running (expired ones fail with
  :class:`DeadlineExceeded`); so are items that a batch, at the time batches take
  now, could no longer finish by their deadline: they fail with
  :class:`Overloaded` (429 with ``Retry-After``) before they start, so a backend that
  slowed after admission sheds load instead of running it into 504s. Batch time is
  measured pessimistically (the larger of a recent average and the last batch), and
  the margin is ``SLACK x`` that plus ``MIN_SLACK_S`` (rewardgate/sources/admission_queue.py);
* ``run_batch`` must return one result per payload, in order; otherwise every
  item fails with :class:`BackendError`;
* an exception from ``run_batch`` fails every item of that batch (a
  :class:`RewardgateError` as raised, anything else wrapped in ``BackendError``);
* ``close`` fails whatever is still queued with :class:`ServiceNotReady`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rewardgate.errors import (
    BackendError,
    ComponentError,
    DeadlineExceeded,
    Overloaded,
    RewardgateError,
    ServiceNotReady,
)
from rewardgate.sources.admission_queue import AVERAGE_WEIGHT, MIN_SLACK_S, SLACK
from rewardgate.sources.model.batching.queue import BatchLimits, PendingItem, PendingQueue

log = logging.getLogger(__name__)

RunBatch = Callable[[list[Any], float], Awaitable[Sequence[Any]]]
"""``run_batch(payloads, deadline)``: deadline is the earliest item deadline (monotonic)."""


class BatchObserver(Protocol):
    """Where the batcher reports what it did (implemented by the metrics layer)."""

    def batch_started(self, size: int, padded_tokens: int, queue_waits_s: list[float]) -> None:
        """``padded_tokens``: tokens the batch computes (rows x longest when padded, real when packed)."""

    def batch_finished(self, seconds: float, ok: bool) -> None: ...
    def item_dropped(self, reason: str) -> None: ...


class NullObserver:
    def batch_started(self, size: int, padded_tokens: int, queue_waits_s: list[float]) -> None:
        pass

    def batch_finished(self, seconds: float, ok: bool) -> None:
        pass

    def item_dropped(self, reason: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class WorkItem:
    """What a caller submits: the payload and its size for the token budget."""

    payload: Any
    length: int
    rows: int = 1


@dataclass(frozen=True, slots=True)
class BatchTiming:
    """Attached to each result future's value so callers can report stage times."""

    queue_s: float
    inference_s: float


class DynamicBatcher:
    """Collects items across concurrent requests into batches for ``run_batch``."""

    def __init__(
        self,
        name: str,
        run_batch: RunBatch,
        *,
        max_batch_items: int,
        max_batch_tokens: int,
        max_wait_ms: float,
        max_concurrent_batches: int = 1,
        overlap_partial_batches: bool = False,
        max_queue_items: int = 8192,
        retry_after_s: float = 1.0,
        observer: BatchObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._run_batch = run_batch
        self._limits = BatchLimits(max_batch_items, max_batch_tokens, max_wait_ms / 1000)
        self._max_queue_items = max_queue_items
        self._retry_after_s = retry_after_s
        self._observer = observer or NullObserver()
        self._clock = clock
        self._queue = PendingQueue()
        self._slots = asyncio.Semaphore(max_concurrent_batches)
        self._overlap_partial_batches = overlap_partial_batches
        self._in_flight = 0
        self._wakeup = asyncio.Event()
        self._collector: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._closed = False
        self._batch_average_s: float | None = None
        self._batch_last_s = 0.0

    # ------------------------------------------------------------------ API

    def start(self) -> None:
        if self._collector is None:
            self._collector = asyncio.create_task(self._collect(), name=f"batcher:{self.name}")

    @property
    def queued(self) -> int:
        return len(self._queue)

    def enqueue(self, items: Sequence[WorkItem], deadline: float) -> list[asyncio.Future]:
        """Queue ``items``; each future resolves to ``(result, BatchTiming)``.

        Raises:
            Overloaded: the queue cannot take all of ``items`` (none is queued).
            ServiceNotReady: the batcher is closed.
        """
        self._check_room(len(items))
        loop = asyncio.get_running_loop()
        now = self._clock()
        futures = []
        for item in items:
            future = loop.create_future()
            self._queue.push(PendingItem(item.payload, item.length, item.rows, deadline, now, future))
            futures.append(future)
        self._wakeup.set()
        return futures

    def enqueue_group(self, items: Sequence[WorkItem], deadline: float) -> asyncio.Future:
        """Queue ``items`` as :meth:`enqueue` does, with one future for all of them.

        It resolves, once every item has its answer, to the list of answers in
        ``items``' order: ``(result, BatchTiming)`` or the exception that item's
        future would have raised, what ``asyncio.gather(*enqueue(...),
        return_exceptions=True)`` gives, without a future and a done-callback hop
        per item (docs/benchmarks.md, "Model path per-item host cost"). Cancelling
        it drops every item still queued, as cancelling each future would.

        Raises:
            Overloaded, ServiceNotReady: as :meth:`enqueue` (nothing is queued).
        """
        self._check_room(len(items))
        future = asyncio.get_running_loop().create_future()
        group = _Group(future, len(items))
        now = self._clock()
        for index, item in enumerate(items):
            self._queue.push(
                PendingItem(item.payload, item.length, item.rows, deadline, now, _Slot(group, index))
            )
        if not items:
            future.set_result([])
        self._wakeup.set()
        return future

    def _check_room(self, count: int) -> None:
        if self._closed:
            raise ServiceNotReady(f"model {self.name!r} is shutting down")
        if len(self._queue) + count > self._max_queue_items:
            raise Overloaded(
                f"model {self.name!r} queue is full ({len(self._queue)} items)",
                retry_after_s=self._retry_after_s,
            )

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop collecting, let running batches finish (up to ``grace_s``), fail the rest."""
        self._closed = True
        if self._collector is not None:
            self._collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._collector
        if self._running:
            await asyncio.wait(self._running, timeout=grace_s)
            for task in self._running:
                task.cancel()
        for item in self._queue.drain():
            _fail(item.future, ServiceNotReady(f"model {self.name!r} shut down"))

    # ------------------------------------------------------------- internals

    async def _collect(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                batch = await self._next_batch()
            except BaseException:
                self._slots.release()
                raise
            self._in_flight += 1
            task = asyncio.create_task(self._execute(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _next_batch(self) -> list[PendingItem]:
        while True:
            now = self._clock()
            if self._due(now):
                batch = self._queue.take_batch(now, self._limits, self._on_drop, self._margin_s())
                if batch:
                    return batch
                continue
            self._wakeup.clear()
            oldest = self._queue.oldest()
            remaining = None if oldest is None else oldest.enqueued_at + self._limits.max_wait_s - now
            if remaining is None or remaining <= 0:  # nothing queued, or a partial batch held back
                await self._wakeup.wait()  # by enqueue, or by a batch finishing
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    def _due(self, now: float) -> bool:
        """A batch may go now (a slot is already held): see the module docstring."""
        if self._queue.is_full(self._limits):
            return True
        if not self._queue.waited(now, self._limits):
            return False
        return self._overlap_partial_batches or self._in_flight == 0

    def count_packed_tokens(self, packed: bool) -> None:
        """Budget batches by their real tokens (``packed``) or rows x longest row.

        Set once the backend has loaded and knows how it lays batches out.
        """
        self._limits = dataclasses.replace(self._limits, packed=packed)

    def set_max_batch_tokens(self, tokens: int) -> None:
        """Replace the token budget (one measured at load, ``batching.memory_fraction``)."""
        if tokens < 1:
            raise ValueError(f"max_batch_tokens must be positive, got {tokens}")
        self._limits = dataclasses.replace(self._limits, max_batch_tokens=tokens)

    def _batch_s(self) -> float | None:
        """Seconds a batch takes now (pessimistic); None until one has run."""
        if self._batch_average_s is None:
            return None
        return max(self._batch_average_s, self._batch_last_s)

    def _margin_s(self) -> float:
        """How long before its deadline a queued item is too late to start."""
        batch_s = self._batch_s()
        return 0.0 if batch_s is None else SLACK * batch_s + MIN_SLACK_S

    def _measured(self, seconds: float) -> None:
        average = self._batch_average_s
        self._batch_average_s = seconds if average is None else average + AVERAGE_WEIGHT * (seconds - average)
        self._batch_last_s = seconds

    def _on_drop(self, item: PendingItem, reason: str) -> None:
        self._observer.item_dropped(reason)
        if reason == "deadline":
            _fail(item.future, DeadlineExceeded(f"deadline passed while queued for {self.name!r}"))
        elif reason == "late":
            batch_s = self._batch_s() or 0.0
            batches = max(len(self._queue) / self._limits.max_batch_items, 1.0)
            _fail(
                item.future,
                Overloaded(
                    f"model {self.name!r}: a queued item could no longer finish by its deadline "
                    f"(a batch takes {batch_s:.2f}s now)",
                    retry_after_s=batches * batch_s,
                ),
            )

    async def _execute(self, batch: list[PendingItem]) -> None:
        started = self._clock()
        waits = [started - item.enqueued_at for item in batch]
        rows = sum(item.rows for item in batch)
        computed = (
            sum(item.cost for item in batch) if self._limits.packed else rows * max(i.length for i in batch)
        )
        self._observer.batch_started(len(batch), computed, waits)
        ok = False
        try:
            results = await self._run_batch(
                [item.payload for item in batch], min(item.deadline for item in batch)
            )
            if len(results) != len(batch):
                raise BackendError(
                    f"model {self.name!r} returned {len(results)} results for {len(batch)} items"
                )
            inference_s = self._clock() - started
            for item, wait, result in zip(batch, waits, results, strict=True):
                if not item.future.done():
                    item.future.set_result((result, BatchTiming(wait, inference_s)))
            ok = True
        except (RewardgateError, ComponentError) as exc:
            _fail_all(batch, exc)
        except asyncio.CancelledError:
            _fail_all(batch, ServiceNotReady(f"model {self.name!r} shut down mid-batch"))
            raise
        except Exception as exc:
            log.exception("batch failed for model %s", self.name)
            _fail_all(batch, BackendError(f"model {self.name!r} failed: {type(exc).__name__}: {exc}"))
        finally:
            self._measured(self._clock() - started)
            self._observer.batch_finished(self._clock() - started, ok)
            self._in_flight -= 1
            self._slots.release()
            self._wakeup.set()  # a partial batch held back may go now


class _Group:
    """The answers of one ``enqueue_group`` call and the future that delivers them."""

    __slots__ = ("answers", "future", "remaining")

    def __init__(self, future: asyncio.Future, size: int) -> None:
        self.future = future
        self.answers: list[Any] = [None] * size
        self.remaining = size


class _Slot:
    """A grouped item's stand-in for its own future: the queue and the batcher call only
    ``done``, ``set_result`` and ``set_exception`` on ``PendingItem.future``."""

    __slots__ = ("answered", "group", "index")

    def __init__(self, group: _Group, index: int) -> None:
        self.group = group
        self.index = index
        self.answered = False

    def done(self) -> bool:
        """Answered, or the caller gave up on the group (its future is cancelled)."""
        return self.answered or self.group.future.done()

    def set_result(self, answer: Any) -> None:
        self._settle(answer)

    def set_exception(self, exc: BaseException) -> None:
        self._settle(exc)

    def _settle(self, answer: Any) -> None:
        self.answered = True
        group = self.group
        group.answers[self.index] = answer
        group.remaining -= 1
        if group.remaining == 0 and not group.future.done():
            group.future.set_result(group.answers)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _fail_all(batch: list[PendingItem], exc: BaseException) -> None:
    for item in batch:
        _fail(item.future, exc)
