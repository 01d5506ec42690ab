"""The error statuses each route documents in its OpenAPI schema, from one table.

Every status a route can answer is listed on it (a schema fuzzer checks this,
tests/e2e/test_openapi_fuzz.py), always with the error envelope: FastAPI's own
422 body (``HTTPValidationError``) is never sent, since every validation
error is answered with the envelope. 401 is listed on every route that the
API-key check guards once keys are configured (all but the probes and,
by default, ``/metrics``).
"""

from __future__ import annotations

from typing import Any

from rewardgate.api.http.schemas import ErrorResponse

DESCRIPTIONS = {
    401: "Missing or wrong API key (only when API keys are configured).",
    404: "Unknown pipeline.",
    413: "Body, item count or a text exceeds a limit.",
    422: "Invalid input (the message names the field).",
    429: "Overloaded; retry after Retry-After seconds.",
    503: "A model is loading or a backend is unavailable (retryable).",
    504: "The request deadline passed.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route answering ``statuses`` with the error envelope."""
    return {status: {"model": ErrorResponse, "description": DESCRIPTIONS[status]} for status in statuses}


#: The scoring and compare routes: everything a scoring request can meet.
SCORING = error_responses(401, 404, 413, 422, 429, 503, 504)
