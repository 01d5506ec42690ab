"""Every HTTP request counted in ``rewardgate_requests_total``, by route and final status.

Scoring requests are counted (and timed) by :meth:`AppContext.observe`, which
knows their pipeline. Everything else is counted by the outermost guard
(rewardgate/api/http/request_guard.py) with :class:`RouteLabels`: requests
refused before any handler (401 from the API-key check, 413 from the body
limit), bodies that do not parse (422), unknown pipelines (404), unknown
paths, other methods (405), probes and scrapes. The guard
hands each request a :class:`RequestTally` in a context variable; ``observe``
marks it counted, so no request is counted twice.

Labels stay bounded whatever clients send: ``route`` is a path the app
serves, or ``unmatched``; ``pipeline`` is ``unknown`` for requests counted
by the guard (none of them was scored under a known pipeline).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from rewardgate.observability.metrics import Metrics

UNMATCHED = "unmatched"

#: The paths an app serves, and the prefixes (ending in ``/``) of its mounts.
Routes = tuple[frozenset[str], tuple[str, ...]]


class RequestTally:
    """The request in flight: whether it has been counted already, and its reply's status
    (None until a reply starts)."""

    __slots__ = ("counted", "status")

    def __init__(self) -> None:
        self.counted = False
        self.status: int | None = None


#: The tally of the HTTP request this task serves (set by the outermost guard).
CURRENT_TALLY: ContextVar[RequestTally | None] = ContextVar("rewardgate_request_tally", default=None)


def mark_counted() -> None:
    """Tell the counting guard that this request was counted by the code that served it
    (a no-op outside an HTTP request, e.g. on gRPC)."""
    tally = CURRENT_TALLY.get()
    if tally is not None:
        tally.counted = True


class RouteLabels:
    """Counts requests in ``rewardgate_requests_total`` under a bounded ``route`` label.

    ``routes()`` gives the paths the app serves and the prefixes of its mounts (read
    once, at the first count, when every router is included).
    """

    def __init__(self, metrics: Metrics, routes: Callable[[], Routes]) -> None:
        self.metrics = metrics
        self._routes_of = routes
        self._routes: Routes | None = None

    def count(self, path: str, status: int) -> None:
        """One request to ``path`` answered with ``status``, under the pipeline ``unknown``."""
        self.metrics.requests.labels(self.route(path), "unknown", str(status)).inc()

    def route(self, path: str) -> str:
        """``path`` if the app serves it, a mount's path if it is under one, else ``unmatched``."""
        if self._routes is None:
            self._routes = self._routes_of()
        paths, mounts = self._routes
        if path in paths:
            return path
        mount = next((prefix for prefix in mounts if path.startswith(prefix)), None)
        return mount.rstrip("/") if mount else UNMATCHED
