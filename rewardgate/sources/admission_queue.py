"""Shedding queued work that can no longer finish by its deadline: 429 before it starts.

Admission (rewardgate/core/admission.py) decides on a request once, on arrival, from a measured
throughput. When the backend slows after that (the CPU halved by a noisy
neighbour, a verifier that got slower), work it admitted waits in a queue
and would start too late: it would hold a worker and end in 504 at its
deadline. A :class:`QueueShedder` guards such a queue of ``workers``
parallel servers (the verifier pool's processes) with what the queue itself
measures:

* **on entry** (:meth:`QueueShedder.check_entry`): ``n`` tasks join a backlog
  of expected work; if, shared over the workers, it cannot be done by the
  deadline, all ``n`` are refused at once, before any of them starts;
* **at the start of each task** (:meth:`QueueShedder.check_start`, and
  :meth:`QueueShedder.give_up_in` to stop waiting in time): a task whose own
  expected time (with slack, and the event loop's measured lag: on a loaded
  CPU the loop hears late that a task ended) no longer fits before its
  deadline is not started.

Requests that enter before their kind has ever been measured (the first ones
after start-up) are checked when the first task of that kind ends, so that
they too are refused early rather than shed one task at a time near their
deadlines. Both raise :class:`~rewardgate.errors.Overloaded` (429 with ``Retry-After``:
the time the backlog needs to drain), which is request-level: the caller
retries later instead of receiving a 504 after the whole wait.

Expected task time per kind (a rule) is an exponential average of recent
tasks (the newest weighs 0.3, so a slowdown counts within a few tasks), each
timed in the worker that ran it (the pool reports it): a worker being
replaced delays one task by seconds without making tasks slower, and neither
it nor the loop's lag (kept apart, :attr:`QueueShedder.lag_s`) is a task's
cost. A running task's age is not used for the same reason. Until a
kind has been measured nothing is shed on its account, and an idle queue admits any
request on entry (only what it measures can correct an estimate).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rewardgate.errors import Overloaded

#: Weight of the newest task in the average of task times.
AVERAGE_WEIGHT = 0.3
#: A task starts only if ``SLACK x expected + MIN_SLACK_S`` fits before its deadline: room for
#: jitter and for the evaluation's own work after the task.
SLACK = 2.0
MIN_SLACK_S = 0.05
#: On entry a request must fit in this share of its remaining time: room for the estimate to
#: grow while it waits, so that fewer admitted requests are shed late, one task at a time.
ENTRY_FRACTION = 0.8


class QueueShedder:
    """Expected work of one queue of ``workers`` servers, and the refusals it implies.

    Protocol for a task of ``kind``: :meth:`check_entry` (once per request, for
    all its tasks), then per task :meth:`enter` when it joins the queue,
    :meth:`check_start` when a worker is free, :meth:`started` when it is handed
    over, :meth:`finished` when it ends (or :meth:`left` if it never started).
    Not thread-safe: used from one event loop.
    """

    def __init__(self, workers: int, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.workers = max(workers, 1)
        self.what = what
        self.backlog_s = 0.0
        self._clock = clock
        self._average: dict[str, float] = {}
        self._running: dict[object, tuple[str, float]] = {}
        #: Requests that entered before their kind was measured: (tasks, deadline, refusal future).
        self._unmeasured: dict[str, list[tuple[int, float, asyncio.Future]]] = {}
        #: How late the event loop learns that a task ended (a loaded CPU delays it): seconds.
        self.lag_s = 0.0

    def expected_s(self, kind: str) -> float | None:
        """Seconds a task of ``kind`` is expected to take; None until one has finished."""
        return self._average.get(kind)

    def check_entry(self, kind: str, tasks: int, deadline: float) -> asyncio.Future | None:
        """Refuse ``tasks`` new tasks of ``kind`` that the backlog would finish after ``deadline``.

        For a kind not measured yet (the first requests after start-up) the check is
        deferred: the returned future fails with Overloaded if the first measurement shows
        that the request, behind those queued before it, cannot finish in time (the caller
        awaits it alongside its work and cancels it when the work ends); None otherwise.
        """
        own = self.expected_s(kind)
        if own is None:
            waiter = asyncio.get_running_loop().create_future()
            self._unmeasured.setdefault(kind, []).append((tasks, deadline, waiter))
            return waiter
        if not (self._running or self.backlog_s):
            # An idle queue admits (the start checks still apply): refusing there would leave a
            # stale estimate (one slow task, a worker being replaced) with nothing to correct it.
            return
        finish_s = (self.backlog_s + tasks * own) / self.workers + self.lag_s
        remaining = deadline - self._clock()
        if finish_s > ENTRY_FRACTION * remaining:
            raise Overloaded(
                f"{self.what}: {tasks} tasks behind {self.backlog_s:.1f}s of queued work would take "
                f"{finish_s:.1f}s, {remaining:.1f}s left of the deadline",
                retry_after_s=self.backlog_s / self.workers,
            )
        return None

    def _recheck(self, kind: str) -> None:
        """At the first measurement of ``kind``: refuse the requests that entered unmeasured and,
        behind those before them, cannot finish by their deadlines."""
        own = self.expected_s(kind) or 0.0
        now, ahead = self._clock(), 0
        for tasks, deadline, waiter in self._unmeasured.pop(kind, []):
            if waiter.done():
                continue
            finish_s = (ahead + tasks) * own / self.workers + self.lag_s
            if now + finish_s > deadline:
                waiter.set_exception(
                    Overloaded(
                        f"{self.what}: {tasks} tasks behind {ahead} queued before them would take "
                        f"{finish_s:.1f}s, {deadline - now:.1f}s left of the deadline",
                        retry_after_s=ahead * own / self.workers,
                    )
                )
            else:
                ahead += tasks

    def enter(self, kind: str) -> float:
        """A task joins the queue; the expected seconds it added to the backlog (for :meth:`left`)."""
        own = self.expected_s(kind) or 0.0
        self.backlog_s += own
        return own

    def give_up_in(self, kind: str, deadline: float) -> float | None:
        """Seconds a queued task may wait for a worker before it cannot finish in time."""
        own = self.expected_s(kind)
        if own is None:
            return None
        return deadline - self._clock() - SLACK * (own + self.lag_s) - MIN_SLACK_S

    def check_start(self, kind: str, deadline: float) -> None:
        """Refuse to start a task of ``kind`` that would not finish by ``deadline``."""
        wait = self.give_up_in(kind, deadline)
        if wait is not None and wait < 0:
            raise self.too_late(kind)

    def too_late(self, kind: str) -> Overloaded:
        """The refusal of a queued task of ``kind`` that could no longer finish in time."""
        return Overloaded(
            f"{self.what}: a queued task could no longer finish by its deadline "
            f"(a task takes {self.expected_s(kind) or 0.0:.2f}s now)",
            retry_after_s=self.backlog_s / self.workers,
        )

    def started(self, token: object, kind: str) -> None:
        self._running[token] = (kind, self._clock())

    def left(self, added_s: float) -> None:
        """A task that never started leaves the queue."""
        self.backlog_s = max(self.backlog_s - added_s, 0.0)

    def finished(
        self,
        token: object,
        kind: str,
        added_s: float,
        ended_at: float | None = None,
        seconds: float | None = None,
    ) -> None:
        """A started task ended (at ``ended_at``, by the clock, if it was seen ending on another
        thread): its time and the loop's lag in hearing of it are measured, its share of the
        backlog removed."""
        now = self._clock()
        running = self._running.pop(token, None)
        self.left(added_s)
        if running is None:
            return
        if ended_at is not None:
            lag = max(now - ended_at, 0.0)
            # Pessimistic like the task times: a lag shows at once, and fades over a few tasks.
            self.lag_s = max(lag, self.lag_s + AVERAGE_WEIGHT * (lag - self.lag_s))
        if seconds is None:  # not measured where it ran: the time since it was handed over
            seconds = now - running[1]
        previous = self._average.get(kind)
        self._average[kind] = (
            seconds if previous is None else previous + AVERAGE_WEIGHT * (seconds - previous)
        )
        if previous is None and kind in self._unmeasured:
            self._recheck(kind)
