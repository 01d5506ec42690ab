"""Who is calling: set by the HTTP middleware or the gRPC wrapper, read where items are admitted."""

from __future__ import annotations

from contextvars import ContextVar

from rewardgate.auth.keys import ApiKey

#: The authenticated key of the current request (None when authentication is off).
current_key: ContextVar[ApiKey | None] = ContextVar("rewardgate_api_key", default=None)


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` value."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
