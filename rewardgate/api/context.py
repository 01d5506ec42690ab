"""What every transport's handlers hold: the settings, the metrics and the core's front door.

Shared by HTTP and gRPC; request metrics are recorded the same way for both
(route, pipeline, final status as the HTTP status of the error table).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rewardgate.api.status import http_status
from rewardgate.config.settings import Settings
from rewardgate.core.facade import RewardCore
from rewardgate.errors import RewardgateError
from rewardgate.observability.metrics import Metrics


class ClientDisconnected(Exception):
    """The client went away; its work was cancelled (counted as status 499)."""


@dataclass
class AppContext:
    """What a transport handler holds: the settings, the metrics and the core's front door."""

    settings: Settings
    metrics: Metrics
    core: RewardCore
    #: Called when :meth:`observe` has counted a request (HTTP tells its counting guard).
    on_counted: Callable[[], None] = lambda: None

    def observe(self, route: str, pipeline: str) -> RequestObservation:
        """A context manager counting and timing one request, labelled by route, pipeline and
        final status (the HTTP status of the error it raises, 499 for a client gone, 500 for
        anything else)."""
        return RequestObservation(self, route, pipeline if self.core.knows(pipeline) else "unknown")


class RequestObservation:
    """One request's count and time (see :meth:`AppContext.observe`). A plain class rather
    than ``@contextmanager``: it is on every request's path, and a generator-based context
    manager costs more to enter and leave."""

    __slots__ = ("_ctx", "_label", "_route", "_started")

    def __init__(self, ctx: AppContext, route: str, label: str) -> None:
        self._ctx = ctx
        self._route = route
        self._label = label
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            status = 200
        elif issubclass(exc_type, RewardgateError):
            status = http_status(exc)
        elif issubclass(exc_type, ClientDisconnected):
            status = 499
        elif issubclass(exc_type, Exception):
            status = 500
        else:  # a cancellation (BaseException) kept the status it had, as before
            status = 200
        ctx = self._ctx
        ctx.on_counted()
        count, seconds = ctx.metrics.request_observers(self._route, self._label, status)
        count.inc()
        seconds.observe(time.perf_counter() - self._started)
