"""The outermost HTTP guard: every request counted, every unexpected exception answered,
and the compat routes' error reason phrases.

Three policies that each watch the reply on its way out, kept in their own modules
and applied here by one ``send`` wrapper rather than three nested ones (each
nested layer costs every reply a coroutine per message; bench/instructions.py,
docs/benchmarks.md):

- the request count (rewardgate/api/http/request_count.py): a request its handler did
  not count is counted here, by route and final status (499 when no reply started);
- the last resort (rewardgate/api/http/errors.py): an unexpected exception is answered
  with the 500 envelope when no reply had started, and never re-raised, so the
  keep-alive connection stays usable; a client that went away is counted as
  ``client_disconnected`` without a reply;
- the reason phrase (rewardgate/api/http/reason_phrase.py): on the compat routes, a
  non-2xx reply's head carries its error (only under a server advertising the
  extension).

The order is the one the three separate guards had, outermost first: reason phrase,
count, last resort. So the count sees the 500 envelope's status, and the reason
phrase sees every reply, the 500 envelope included.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardgate.api.http.compat_errors import COMPAT_PATHS
from rewardgate.api.http.errors import last_resort
from rewardgate.api.http.reason_phrase import ErrorHeadHolder, holds_error_heads
from rewardgate.api.http.request_count import CURRENT_TALLY, RequestTally, RouteLabels, Routes
from rewardgate.observability.metrics import Metrics

#: The status a request is counted with when no reply started (the client went away).
NO_REPLY = 499


class RequestGuard:
    """ASGI middleware applying the three policies of the module docstring.

    ``record(error_type)`` is called for an unexpected exception (``internal``) and
    for a client gone (``client_disconnected``); ``routes()`` gives the paths the app
    serves and its mounts' prefixes (read once, at the first count).
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        routes: Callable[[], Routes],
        record: Callable[[str], None],
        compat_paths: frozenset[str] = COMPAT_PATHS,
    ) -> None:
        self.app = app
        self.record = record
        self.compat_paths = compat_paths
        self._labels = RouteLabels(metrics, routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if holds_error_heads(scope, self.compat_paths):
            send = ErrorHeadHolder(send)
        tally = RequestTally()

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                tally.status = message["status"]
            await send(message)

        token = CURRENT_TALLY.set(tally)
        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            await last_resort(exc, tally.status is not None, self.record, scope, receive, watched_send)
        finally:
            CURRENT_TALLY.reset(token)
            if not tally.counted:
                status = tally.status
                self._labels.count(scope["path"], NO_REPLY if status is None else status)
