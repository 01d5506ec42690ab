"""prometheus_client's collectors, made cheap on the scoring path (the same records).

The scoring path updates several metrics per request and per item. These
subclasses answer ``labels`` from a dict, and update a child's value in one
step under one lock (tests/unit/test_histogram_observe_many.py holds them to
the library's records and checks no update is lost under threads).
rewardgate/observability/metrics.py declares every metric with them.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import threading
from bisect import bisect_left
from collections.abc import Sequence

import prometheus_client
from prometheus_client.values import MutexValue


class _RememberedChildren:
    """``labels(*values)`` answered from a dict after the first call for those values.

    prometheus_client checks and locks on every ``labels`` call, which the
    scoring path makes several times per request; label values here are
    bounded (see the module docstring), so remembering every child is safe.
    Positional label values only, as this codebase passes them.
    """

    def labels(self, *values):
        try:
            return self._remembered_children[values]
        except AttributeError:  # the first call on this metric
            self._remembered_children = {}
        except KeyError:  # the first call for these values
            pass
        child = self._remembered_children[values] = super().labels(*values)
        return child


class Counter(_RememberedChildren, prometheus_client.Counter):
    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        """prometheus_client's ``inc`` in one step for a child (or an unlabelled counter) whose
        value is the library's in-process ``MutexValue``: the same update under the same lock,
        without the two calls checking that the counter has its labels (a child has them by
        construction) and the value's own ``inc`` call. Anything else (a labelled parent, which
        raises; an exemplar; a negative amount, which raises; multiprocess values) takes the
        library's path."""
        value = self.__dict__.get("_value")
        if type(value) is not MutexValue or exemplar or amount < 0:
            super().inc(amount, exemplar)
            return
        with value._lock:
            value._value += amount


class Gauge(_RememberedChildren, prometheus_client.Gauge):
    pass


class Histogram(_RememberedChildren, prometheus_client.Histogram):
    def _metric_init(self) -> None:
        super()._metric_init()
        if type(self._sum) is MutexValue and all(type(bucket) is MutexValue for bucket in self._buckets):
            #: Held by every update of this child's sum and buckets (see :meth:`observe`).
            self._observe_lock = threading.Lock()

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        """prometheus_client's ``observe``, finding the bucket by bisection rather than a Python
        loop over the bounds (up to 17 steps; the scoring path observes four values per
        request), and updating the sum and the bucket under one lock rather than two.

        The same records (tests/unit/test_histogram_observe_many.py). The one lock is the
        child's own: every update of its sum and buckets holds it (the library's path too,
        for NaN and exemplars), so no update is lost; readers read a float. Values other than
        the library's in-process ``MutexValue`` (multiprocess mode) and a labelled parent
        (which raises) take the library's path."""
        lock = self.__dict__.get("_observe_lock")
        if lock is None:
            super().observe(amount, exemplar)
            return
        if exemplar or amount != amount:  # NaN is in no bucket there; bisection would pick one
            with lock:
                super().observe(amount, exemplar)
            return
        bucket = self._buckets[bisect_left(self._upper_bounds, amount)]
        total = self._sum
        with lock:
            total._value += amount
            bucket._value += 1

    def observe_many(self, values: Sequence[float]) -> None:
        """What ``observe`` for each value records, with one update per bucket touched.

        The scoring path observes per item. This counts the values per bucket first
        (the first bucket whose bound is >= the value, as ``observe`` does). It
        reads prometheus_client's private bucket state; tests/unit/
        test_histogram_observe_many.py fails if a new release changes it.
        """
        if len(values) <= 2:  # counting first does not pay for one or two values
            for value in values:
                self.observe(value)
            return
        self._raise_if_not_observable()
        lock = self.__dict__.get("_observe_lock") or contextlib.nullcontext()
        bounds = self._upper_bounds
        with lock:
            self._sum.inc(sum(values))
            # map over a partial: the bucket of every value found in C, no generator step per value
            indices = map(functools.partial(bisect_left, bounds), values)
            for index, count in collections.Counter(indices).items():
                self._buckets[index].inc(count)
