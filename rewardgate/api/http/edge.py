"""The ASGI app the server runs: FastAPI, with the scoring routes answered in front of it.

A ``POST`` to a scoring route (rewardgate/api/http/scoring_routes.py) never enters
FastAPI: FastAPI's own per-request layers (its telemetry checks, Starlette's
server-error and body-limit wrappers around ``send``) cost about as much as
the rest of the edge (bench/hot_path.py, docs/benchmarks.md). It passes the
same guards as every other request instead, in the same order, built from
one list: the last-resort error envelope, API keys, the body limit.
Everything else (other routes, other methods, lifespan) is FastAPI's.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from rewardgate.api.http.scoring_routes import ROUTES, ScoringRoutes

#: An ASGI middleware class and its keyword arguments.
Guard = tuple[type, dict[str, Any]]


class RewardgateApp(FastAPI):
    """FastAPI whose scoring routes are served by :meth:`serve_scoring_routes`'s edge."""

    _scoring_edge: ASGIApp | None = None

    def serve_scoring_routes(self, guards: list[Guard], on_error) -> None:
        """Install ``guards`` (innermost first) around FastAPI's routes and, as a separate
        chain of the same guards, around the scoring routes."""
        for middleware, options in guards:
            self.add_middleware(middleware, **options)
        edge: ASGIApp = ScoringRoutes(functools.partial(FastAPI.__call__, self), on_error=on_error)
        for middleware, options in guards:
            edge = middleware(edge, **options)
        self._scoring_edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._scoring_edge is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in ROUTES
        ):
            scope["app"] = self  # what Starlette would set; the handlers read the app's state
            await self._scoring_edge(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
