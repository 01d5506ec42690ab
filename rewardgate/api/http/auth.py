"""HTTP authentication: ``Authorization: Bearer KEY`` on every route but the probes.

``/healthz`` and ``/readyz`` stay open for probes, ``/metrics`` too unless
``auth_metrics_open`` is off. The OpenRLHF and slime routes also accept the key
as an ``api_key`` query parameter, because those trainers cannot send headers
(the parameter is redacted from the access log). A missing or unknown key is
a 401 envelope with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from rewardgate.api.http.compat_errors import PERMANENT_ERRORS
from rewardgate.api.http.errors import envelope_response
from rewardgate.auth.caller import bearer_token, current_key
from rewardgate.auth.keys import KeyRing
from rewardgate.errors import Unauthenticated

PROBE_PATHS = frozenset({"/healthz", "/readyz"})
QUERY_KEY_PATHS = frozenset({"/get_reward", "/slime/reward"})


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, keyring: KeyRing, metrics_open: bool, on_failure: Callable[[str], None]
    ) -> None:
        self.app = app
        self.keyring = keyring
        self.open_paths = PROBE_PATHS | ({"/metrics"} if metrics_open else set())
        self.on_failure = on_failure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        token = self._presented(scope)
        key = self.keyring.authenticate(token)
        if key is None:
            reason = "missing" if token is None else "invalid"
            self.on_failure(reason)
            error = Unauthenticated(f"{reason} API key: send 'Authorization: Bearer KEY'")
            PERMANENT_ERRORS.report(scope["path"], error.error_type, error.message, error.retryable)
            response = envelope_response(error)
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        current_key.set(key)
        await self.app(scope, receive, send)

    @staticmethod
    def _presented(scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return bearer_token(value.decode("latin-1"))
        if scope["path"] in QUERY_KEY_PATHS and scope.get("query_string"):
            values = parse_qs(scope["query_string"].decode("latin-1")).get("api_key")
            return values[0] if values else None
        return None
