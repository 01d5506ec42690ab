"""Mapping every failure to the one error envelope.

``{"error": {"type", "message", "retryable"}}`` with the status of the error
type; 429 and 503 carry ``Retry-After``. Malformed input (including a body
that is not JSON or not UTF-8) is a 422 naming the field; an unexpected
exception is a 500 envelope on a connection that stays open, never a crash.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from rewardgate.api.http.compat_errors import PERMANENT_ERRORS
from rewardgate.api.http.context import ClientDisconnected

# Shared with gRPC (api/problems.py); kept importable here.
from rewardgate.api.problems import describe_problem as describe_problem
from rewardgate.api.problems import describe_validation_errors as describe_validation_errors
from rewardgate.api.status import http_status
from rewardgate.errors import InvalidInput, RewardgateError

log = logging.getLogger(__name__)

_HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed"}


def envelope_response(error: RewardgateError) -> JSONResponse:
    headers = {}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after_s)))
    status = http_status(error)
    if error.retry_after_s is None and status == 503:
        headers["Retry-After"] = "1"
    return JSONResponse(error.to_envelope(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, on_error=None) -> None:
    """Register handlers; ``on_error(error_type)`` is called for every request error.

    The last resort (:func:`last_resort`) is the outermost guard's
    (rewardgate/api/http/request_guard.py), so that the scoring routes' edge has it too."""

    def record(error_type: str) -> None:
        if on_error is not None:
            on_error(error_type)

    def answer(request: Request, error: RewardgateError) -> JSONResponse:
        record(error.error_type)
        PERMANENT_ERRORS.report(request.url.path, error.error_type, error.message, error.retryable)
        return envelope_response(error)

    @app.exception_handler(RewardgateError)
    async def _rewardgate(request: Request, exc: RewardgateError) -> JSONResponse:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(request, InvalidInput(describe_validation_errors(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not parse the body (not JSON, not UTF-8)
            return answer(request, InvalidInput(f"body: {exc.detail} (send UTF-8 JSON)"))
        error_type = _HTTP_ERROR_TYPES.get(exc.status_code, "http_error")
        record(error_type)
        body = {"error": {"type": error_type, "message": str(exc.detail), "retryable": False}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def last_resort(
    exc: Exception, replied: bool, record: Callable[[str], None], scope: Scope, receive: Receive, send: Send
) -> None:
    """What the outermost guard (rewardgate/api/http/request_guard.py) does with an exception
    that no handler answered; it never re-raises it.

    Starlette's own last-resort handler re-raises after answering, and uvicorn then
    closes the keep-alive connection under the client; here the connection stays usable.
    An unexpected exception is logged, recorded as ``internal`` and, when no reply had
    started (``replied`` false), answered with the 500 envelope. A client that went away
    (:class:`ClientDisconnected`) is not a bug: recorded as ``client_disconnected``, no
    traceback, no reply.
    """
    if isinstance(exc, ClientDisconnected):
        record("client_disconnected")
        return
    log.exception("unhandled error", exc_info=exc)
    record("internal")
    if not replied:
        error = RewardgateError(f"internal error: {type(exc).__name__}")
        await envelope_response(error)(scope, receive, send)
