"""Early refusal under overload, derived from what can finish within the deadline.

Each pipeline has a :class:`PipelineMeter`: items completed per second of
busy time (time with work in flight), exponentially weighted over a short and
a long time constant; admission plans with the lower of the two, so a sudden
drop (CPU taken by something else, a flood of refused requests to parse)
counts at once while a sudden rise must last. A request of ``n`` items and deadline ``D`` is admitted when its
pipeline's backlog would let it finish in time at the measured rate::

    (items in flight for the pipeline + n) / rate  <=  deadline_fraction * D

otherwise it is refused at once with :class:`Overloaded` (429) and a
``Retry-After`` of the time until the backlog has shrunk enough, so excess
load turns into fast 429s rather than 504s after a long wait. Until a
pipeline's rate is measured, at most ``probe_items`` of its items are in
flight. ``max_items`` bounds all pipelines together (memory stays flat), and
a caller whose API key has an item quota is refused past it. An idle
pipeline admits any single request (the per-request item limit bounds it).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable

from prometheus_client import Gauge

from rewardgate.auth.caller import current_key
from rewardgate.errors import Overloaded


class Ticket:
    """One request's admission, a context manager (see :meth:`AdmissionControl.admit`).

    Entering it admits the items or raises :class:`Overloaded`; the caller then
    records on ``free_items`` how many were served whole from the cache; leaving
    it releases the items. A plain class rather than ``@contextmanager`` because it
    is on every request's path and a generator-based context manager costs more to
    enter and leave."""

    __slots__ = ("_control", "_deadline_s", "_items", "_meter", "_pipeline", "free_items")

    def __init__(self, control: AdmissionControl, items: int, pipeline: str, deadline_s: float) -> None:
        self.free_items = 0
        self._control = control
        self._items = items
        self._pipeline = pipeline
        self._deadline_s = deadline_s
        self._meter: ThroughputMeter | PipelineMeter | None = None

    def __enter__(self) -> Ticket:
        self._meter = self._control._enter(self._items, self._pipeline, self._deadline_s)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._control._leave(self._meter, self._items, exc_type is None, self.free_items)


class ThroughputMeter:
    """Items completed per busy second, exponentially weighted with time constant ``tau_s``."""

    def __init__(self, tau_s: float = 3.0, min_items: int = 32, clock: Callable[[], float] = time.monotonic):
        self.tau_s = tau_s
        self.min_items = min_items
        self.inflight = 0
        self._clock = clock
        self._items = 0.0
        self._busy_s = 0.0
        self._last = clock()
        self._last_rate: float | None = None

    def _advance(self) -> None:
        now = self._clock()
        elapsed, self._last = now - self._last, now
        if elapsed <= 0:
            return
        decay = math.exp(-elapsed / self.tau_s)
        self._items *= decay
        # The weighted busy time of the elapsed interval: its integral of e^(-age / tau).
        self._busy_s = self._busy_s * decay + (self.tau_s * (1 - decay) if self.inflight else 0.0)

    def start(self, items: int) -> None:
        self._advance()
        self.inflight += items

    def finish(self, items: int, completed: bool, computed: int | None = None) -> None:
        """``items`` leave; ``computed`` of them (all by default) count as throughput if completed."""
        self._advance()
        self.inflight -= items
        if completed:
            self._items += items if computed is None else computed

    def rate(self) -> float | None:
        """Items per busy second; after an idle spell (too little recent evidence) the last
        measured rate; None until ``min_items`` have ever been weighed."""
        self._advance()
        if self._items >= self.min_items and self._busy_s > 0:
            self._last_rate = self._items / self._busy_s
        return self._last_rate


class PipelineMeter:
    """Two throughput meters over different time constants (1 s and 5 s); the rate is the lower.

    The same arithmetic as two :class:`ThroughputMeter` (tests/unit/core/test_admission.py
    checks they agree), kept in one object because it runs twice per request: one clock
    read and one pass per start, finish or rate instead of two of each."""

    __slots__ = ("_busy", "_clock", "_items", "_last", "_last_rates", "inflight", "min_items", "taus")

    def __init__(self, clock: Callable[[], float] = time.monotonic, min_items: int = 32) -> None:
        self.taus = (1.0, 5.0)
        self.min_items = min_items
        self.inflight = 0
        self._clock = clock
        self._items = [0.0, 0.0]
        self._busy = [0.0, 0.0]
        self._last = clock()
        self._last_rates: list[float | None] = [None, None]

    def _advance(self) -> None:
        now = self._clock()
        elapsed, self._last = now - self._last, now
        if elapsed <= 0:
            return
        items, busy, inflight = self._items, self._busy, self.inflight
        for index, tau in enumerate(self.taus):
            decay = math.exp(-elapsed / tau)
            items[index] *= decay
            busy[index] = busy[index] * decay + (tau * (1 - decay) if inflight else 0.0)

    def start(self, items: int) -> None:
        self._advance()
        self.inflight += items

    def finish(self, items: int, completed: bool, computed: int | None = None) -> None:
        self._advance()
        self.inflight -= items
        if completed:
            counted = items if computed is None else computed
            self._items[0] += counted
            self._items[1] += counted

    def rate(self) -> float | None:
        self._advance()
        rates = self._last_rates
        for index in (0, 1):
            if self._items[index] >= self.min_items and self._busy[index] > 0:
                rates[index] = self._items[index] / self._busy[index]
        known = [r for r in rates if r is not None]
        return min(known) if known else None


class AdmissionControl:
    def __init__(
        self,
        max_items: int,
        retry_after_s: float,
        gauge: Gauge | None = None,
        *,
        deadline_fraction: float = 0.4,
        probe_items: int = 1024,
        throughput_gauge: Gauge | None = None,
        meter_factory: Callable[[], ThroughputMeter | PipelineMeter] = PipelineMeter,
    ) -> None:
        self.max_items = max_items
        self.retry_after_s = retry_after_s
        self.deadline_fraction = deadline_fraction
        self.probe_items = probe_items
        self.inflight = 0
        self.meters: dict[str, ThroughputMeter | PipelineMeter] = defaultdict(meter_factory)
        if gauge is not None:  # read at scrape time: no metric update on the hot path
            gauge.set_function(lambda: self.inflight)
        self._throughput_gauge = throughput_gauge

    def admit(self, items: int, pipeline: str = "", deadline_s: float = math.inf) -> Ticket:
        """A context manager admitting ``items`` of ``pipeline`` due within ``deadline_s``,
        or raising Overloaded, when entered.

        It gives a :class:`Ticket` on which the caller records how many items cost
        nothing (served whole from the cache). Only the other, computed items
        count as throughput, and only when the block completes: cache hits and
        failed work would otherwise inflate the measured rate."""
        return Ticket(self, items, pipeline, deadline_s)

    def _enter(self, items: int, pipeline: str, deadline_s: float) -> ThroughputMeter | PipelineMeter:
        """Admit (or raise Overloaded) and count the items in; the pipeline's meter."""
        key = current_key.get()
        if key is not None and key.quota is not None:
            key.quota.take(items, key.name)
        if self.inflight and self.inflight + items > self.max_items:
            raise Overloaded(
                f"{self.inflight} items in flight; limit is {self.max_items}",
                retry_after_s=self.retry_after_s,
            )
        meter = self.meters[pipeline]
        self._check_backlog(meter, items, pipeline, deadline_s)
        self.inflight += items
        meter.start(items)
        return meter

    def _leave(
        self, meter: ThroughputMeter | PipelineMeter, items: int, completed: bool, free_items: int
    ) -> None:
        """Count the items of an admitted request out; only computed, completed ones are throughput."""
        meter.finish(items, completed, computed=items - free_items)
        self.inflight -= items

    def _check_backlog(
        self, meter: ThroughputMeter | PipelineMeter, items: int, pipeline: str, deadline_s: float
    ) -> None:
        if not meter.inflight:
            return
        rate = meter.rate()
        if rate is None:
            if meter.inflight + items > self.probe_items:
                raise Overloaded(
                    f"pipeline {pipeline!r}: {meter.inflight} items in flight while its throughput "
                    "is still being measured",
                    retry_after_s=self.retry_after_s,
                )
            return
        if self._throughput_gauge is not None:
            self._throughput_gauge.labels(pipeline).set(rate)
        expected_s = (meter.inflight + items) / rate
        budget_s = self.deadline_fraction * deadline_s
        if expected_s > budget_s:
            raise Overloaded(
                f"pipeline {pipeline!r}: {meter.inflight} items in flight at {rate:.0f} items/s would take "
                f"{expected_s:.1f}s, over {budget_s:.1f}s of this request's deadline",
                retry_after_s=expected_s - budget_s,
            )
