"""Every HTTP request counted in ``rewardgate_requests_total``, by route and final status.

Scoring requests are counted (and timed) by :meth:`AppContext.observe`, which
knows their pipeline. Everything else is counted here, by the outermost
guard: requests refused before any handler (401 from the API-key check, 413
from the body limit), bodies that do not parse (422), unknown pipelines
(404), unknown paths, other methods (405), probes and scrapes. The guard
hands each request a :class:`RequestTally` in a context variable; ``observe``
marks it counted, so no request is counted twice.

Labels stay bounded whatever clients send: ``route`` is a path the app
serves, or ``unmatched``; ``pipeline`` is ``unknown`` for requests counted
here (none of them was scored under a known pipeline).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardgate.observability.metrics import Metrics

UNMATCHED = "unmatched"

#: The paths an app serves, and the prefixes (ending in ``/``) of its mounts.
Routes = tuple[frozenset[str], tuple[str, ...]]


class RequestTally:
    """Whether the request in flight has been counted already."""

    __slots__ = ("counted",)

    def __init__(self) -> None:
        self.counted = False


_CURRENT: ContextVar[RequestTally | None] = ContextVar("rewardgate_request_tally", default=None)


def mark_counted() -> None:
    """Tell the counting guard that this request was counted by the code that served it
    (a no-op outside an HTTP request, e.g. on gRPC)."""
    tally = _CURRENT.get()
    if tally is not None:
        tally.counted = True


class RequestCountingMiddleware:
    """Outermost HTTP guard: counts each request that its handler did not count.

    ``routes()`` gives the paths the app serves and the prefixes of its mounts
    (read once, at the first request, when every router is included). A
    request that ends without a reply (the client went away) is counted as 499.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], Routes]) -> None:
        self.app = app
        self.metrics = metrics
        self._routes_of = routes
        self._routes: Routes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tally = RequestTally()
        token = _CURRENT.set(tally)
        status = 499

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            _CURRENT.reset(token)
            if not tally.counted:
                self.metrics.requests.labels(self._route(scope["path"]), "unknown", str(status)).inc()

    def _route(self, path: str) -> str:
        if self._routes is None:
            self._routes = self._routes_of()
        paths, mounts = self._routes
        if path in paths:
            return path
        mount = next((prefix for prefix in mounts if path.startswith(prefix)), None)
        return mount.rstrip("/") if mount else UNMATCHED
