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
* **while queued** (the :class:`QueueEntry` that entry returns): each time a
  task's end shows the queue slower than it was (its kind's typical time or
  the loop's lag grew, a kind was measured for the first time, or a worker is
  still busy with a task that has run past twice the typical time), every
  request still waiting is projected again, in queue order, behind the work
  ahead of it; a request that would miss its deadline (by
  :data:`REFUSE_MARGIN`) is refused at once (its ``refused`` future fails),
  all its waiting tasks with it, within the first :data:`EARLY_FRACTION` of
  its time. So
  a request shed because the backend slowed gets its 429 on the first
  evidence of the slowdown, not when one of its tasks finally reaches a
  worker, however fast or slow the machine is;
* **at the start of each task** (:meth:`QueueShedder.check_start`, and
  :meth:`QueueShedder.give_up_in` to stop waiting in time): a task whose own
  expected time (with slack, and the event loop's measured lag: on a loaded
  CPU the loop hears late that a task ended) no longer fits before its
  deadline is not started (the backstop: a queue that ends no task at all,
  every worker held, brings no evidence to the projection).

Requests that enter before their kind has ever been measured (the first ones
after start-up) are projected once MIN_TASKS tasks of that kind ended, so that
they too are refused early rather than shed one task at a time near their
deadlines. All raise :class:`~rewardgate.errors.Overloaded` (429 with ``Retry-After``:
the time the backlog needs to drain), which is request-level: the caller
retries later instead of receiving a 504 after the whole wait.

Expected task time per kind (a rule) is an exponential average of recent
tasks (the newest weighs 0.3, so a slowdown counts within a few tasks), each
timed in the worker that ran it (the pool reports it): a worker being
replaced delays one task by seconds without making tasks slower, and neither
it nor the loop's lag (kept apart, :attr:`QueueShedder.lag_s`) is a task's
cost. A running task's age is not part of that average for the same reason. Until a
kind has been measured nothing is shed on its account, and an idle queue admits any
request on entry (only what it measures can correct an estimate).

Waiting work is projected with a second figure: the *typical* time of a kind,
the median of the time its last :data:`RECENT_TASKS` tasks held their worker
slot, from hand-over to the loop hearing the end. That is what the queue
drains at: on a loaded machine handing a task over and hearing it end can
cost more than the task itself, and the worker's own time alone let a queue
that could not drain admit requests that then waited out their whole
deadline (an overload run at load average 15: 429s after 5 s reading "a
task takes 0.00s now"). A median because one heavy-tailed task
(a slow math proof among quick ones, a worker being replaced) moves an
average at once but not the median; a real slowdown, every task slower,
moves it within three tasks (used once :data:`MIN_TASKS` ended). On entry a
request is refused too if, behind every
request waiting, at that pace, it would miss its deadline (by
:data:`REFUSE_MARGIN`: a stricter share refused, under overload, requests
the previous code finished in time). Running tasks that
have already run longer than that (SLACK x typical + MIN_SLACK_S) count as
workers the queue cannot use. An idle queue forgets the typical times of the
kind it admits: they describe the last busy spell, and only fresh tasks are
evidence against work admitted now.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
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
#: A waiting request is refused by the projection only within this share of its deadline from
#: its entry: a 429 is worth most early, and later the projection, extrapolated from a few
#: tasks, misjudged requests that went on to finish: refused after 3 s of 5, where the previous
#: code finished them (bench/overload_shedding.py, docs/benchmarks.md). Later the start check
#: alone refuses, as before.
EARLY_FRACTION = 0.2
#: The typical task time of a kind (what queued work is refused on) is the median of this many,
#: and is not used before MIN_TASKS of them ended since the queue was last idle.
RECENT_TASKS = 5
MIN_TASKS = 3
#: A request is refused (on entry, or while waiting) when the projection misses its deadline by
#: this factor: it is extrapolated from a few tasks, timed while requests arrive (the loop at its
#: busiest), and refusing on less shed requests the previous code finished under overload
#: (bench/overload_shedding.py, docs/benchmarks.md).
REFUSE_MARGIN = 1.25
#: The queue's pace is the median of this many intervals between task ends while tasks waited.
RECENT_INTERVALS = 9


class QueueEntry:
    """One request's tasks in a :class:`QueueShedder`'s queue, in arrival order.

    ``refused`` fails with :class:`Overloaded` once the request can no longer
    finish by its deadline (the caller awaits it alongside its tasks and, when
    it fails, cancels them). The queue calls :meth:`task_started` /
    :meth:`task_left` as each task leaves the queue; the caller calls
    :meth:`close` when the request ends."""

    __slots__ = ("_shedder", "deadline", "kind", "last_say", "refused", "waiting")

    def __init__(self, shedder: QueueShedder, kind: str, tasks: int, deadline: float, now: float) -> None:
        self._shedder = shedder
        self.kind = kind
        self.waiting = tasks
        self.deadline = deadline
        #: Until when the projection may refuse it (EARLY_FRACTION of its time from entry).
        self.last_say = now + EARLY_FRACTION * (deadline - now)
        self.refused: asyncio.Future = asyncio.get_running_loop().create_future()

    def task_started(self) -> None:
        """One of its tasks was handed to a worker (or will never start)."""
        self.waiting -= 1
        if self.waiting <= 0:
            self.close()

    task_left = task_started

    def close(self) -> None:
        """The request no longer waits in the queue (idempotent)."""
        self._shedder._entries.pop(self, None)


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
        #: The last RECENT_TASKS task times of each kind (their median is the typical time).
        self._recent: dict[str, deque[float]] = {}
        #: Requests with tasks still waiting, in arrival order (a dict as an ordered set).
        self._entries: dict[QueueEntry, None] = {}
        #: Tasks entered and not yet started.
        self.waiting = 0
        #: Seconds between task ends heard while tasks were waiting (the queue's pace).
        self._intervals: deque[float] = deque(maxlen=RECENT_INTERVALS)
        self._last_end: float | None = None  # the last end heard while tasks were waiting
        #: How late the event loop learns that a task ended (a loaded CPU delays it): seconds.
        self.lag_s = 0.0

    def expected_s(self, kind: str) -> float | None:
        """Seconds a task of ``kind`` is expected to take; None until one has finished."""
        return self._average.get(kind)

    def typical_s(self, kind: str) -> float | None:
        """Seconds a task of ``kind`` holds a worker, as the queue drains: the median of its
        last :data:`RECENT_TASKS` tasks' slot times, or ``workers`` x the queue's pace if that is
        longer (the time between task ends while tasks waited: handing the next task over
        costs too); None until :data:`MIN_TASKS` tasks of ``kind`` ended since the queue was
        last idle."""
        recent = self._recent.get(kind)
        if not recent or len(recent) < MIN_TASKS:
            return None
        typical = statistics.median(recent)
        if self._intervals:
            typical = max(typical, self.workers * statistics.median(self._intervals))
        return typical

    def check_entry(self, kind: str, tasks: int, deadline: float) -> QueueEntry:
        """Refuse ``tasks`` new tasks of ``kind`` that the backlog would finish after ``deadline``;
        else the request's :class:`QueueEntry`, which the queue refuses later if the request can
        no longer finish in time while it waits (see the module docstring).

        Raises:
            Overloaded: the backlog would not let the tasks finish within ``ENTRY_FRACTION`` of
                the time left.
        """
        own = self.expected_s(kind)
        if own is not None and (self._running or self.backlog_s):
            finish_s = (self.backlog_s + tasks * own) / self.workers + self.lag_s
            remaining = deadline - self._clock()
            if finish_s > ENTRY_FRACTION * remaining:
                raise Overloaded(
                    f"{self.what}: {tasks} tasks behind {self.backlog_s:.1f}s of queued work would take "
                    f"{finish_s:.1f}s, {remaining:.1f}s left of the deadline",
                    retry_after_s=self.backlog_s / self.workers,
                )
            self._check_drain(kind, tasks, deadline)
        elif own is not None:
            # An idle queue admits (the start checks still apply): refusing there would leave a
            # stale estimate (one slow task, a worker being replaced) with nothing to correct it;
            # and its typical times are the last busy spell's, no evidence against this request.
            self._recent.pop(kind, None)
            self._intervals.clear()
            self._last_end = None
        entry = QueueEntry(self, kind, tasks, deadline, self._clock())
        self._entries[entry] = None
        return entry

    def _check_drain(self, kind: str, tasks: int, deadline: float) -> None:
        """Refuse ``tasks`` new tasks that, behind every request waiting and at the pace the
        queue drains (typical times), would miss ``deadline`` by ``REFUSE_MARGIN``.

        The worker's own task time (the entry check above) leaves out what holding a worker
        costs besides: handing the task over and hearing it end, which on a loaded machine can
        be most of it (tasks of 2 ms in the worker held their workers 30 ms and more)."""
        own = self.typical_s(kind)
        if own is None:
            return
        now = self._clock()
        ahead_s, workers = self._running_work(now)
        for entry in self._entries:
            typical = self.typical_s(entry.kind)
            if typical is not None and not entry.refused.done():
                ahead_s += entry.waiting * typical
        finish_s = (ahead_s + tasks * own) / workers
        remaining = deadline - now
        if finish_s > REFUSE_MARGIN * remaining:
            raise Overloaded(
                f"{self.what}: {tasks} tasks behind {ahead_s:.1f}s of waiting work (a task holds a "
                f"worker {own:.3f}s now) would take {finish_s:.1f}s, {remaining:.1f}s left of the deadline",
                retry_after_s=ahead_s / workers,
            )

    def _running_work(self, now: float) -> tuple[float, int]:
        """(typical seconds of the running tasks, the workers the queue can count on: those
        not busy past their task's typical time, at least one)."""
        ahead_s, stuck = 0.0, 0
        for kind, since in self._running.values():
            typical = self.typical_s(kind)
            if typical is None:
                continue
            if now - since > SLACK * typical + MIN_SLACK_S:
                stuck += 1  # busy for longer than a task takes: not a worker the queue can count on
            else:
                ahead_s += typical
        return ahead_s, max(self.workers - stuck, 1)

    def _recheck(self) -> None:
        """Refuse each waiting request that, behind the work ahead of it, can no longer finish
        by its deadline (typical task times; workers busy past them count as unavailable)."""
        now = self._clock()
        ahead_s, workers = self._running_work(now)
        for entry in list(self._entries):
            own = self.typical_s(entry.kind)
            if own is None or entry.refused.done():
                continue  # not measured since the queue was idle: nothing to judge it on
            if now > entry.last_say:  # past its early share: the start check alone judges it
                ahead_s += entry.waiting * own
                continue
            work_s = entry.waiting * own
            finish_s = (ahead_s + work_s) / workers  # typical times include the loop's lag
            if finish_s > REFUSE_MARGIN * (entry.deadline - now):
                entry.refused.set_exception(
                    Overloaded(
                        f"{self.what}: {entry.waiting} queued tasks cannot finish by their deadline "
                        f"now that a task holds a worker {own:.3f}s: {finish_s:.1f}s of work, "
                        f"{entry.deadline - now:.1f}s left",
                        retry_after_s=(ahead_s + work_s) / workers,
                    )
                )
                entry.close()
            else:
                ahead_s += work_s

    def enter(self, kind: str) -> float:
        """A task joins the queue; the expected seconds it added to the backlog (for :meth:`left`)."""
        own = self.expected_s(kind) or 0.0
        self.backlog_s += own
        self.waiting += 1
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
        self.waiting -= 1
        self._running[token] = (kind, self._clock())

    def left(self, added_s: float) -> None:
        """A task that never started leaves the queue."""
        self.waiting -= 1
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
        self.backlog_s = max(self.backlog_s - added_s, 0.0)
        if running is None:
            return
        lag_before, typical_before = self.lag_s, self.typical_s(kind)
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
        # What the queue drains at: the time the task held its worker slot, from hand-over to
        # the loop hearing it ended (a worker being replaced is one long time: the median drops it).
        self._recent.setdefault(kind, deque(maxlen=RECENT_TASKS)).append(now - running[1])
        if self.waiting > 0:  # tasks waited: the time since the last end is the queue's pace
            if self._last_end is not None:
                self._intervals.append(now - self._last_end)
            self._last_end = now
        else:
            self._last_end = None  # the next interval would include time with nothing to do
        typical = self.typical_s(kind)
        if not self._entries:
            return
        slower = typical_before is None or typical > typical_before or self.lag_s > lag_before
        # Only a slower queue can make waiting work hopeless: slower tasks, or a worker held by
        # one long task (a heavy tail) while the others go on ending tasks at the usual pace.
        if slower or self._running_work(now)[1] < self.workers:
            self._recheck()
