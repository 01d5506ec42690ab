"""The scoring routes' HTTP edge: ``POST /v1/score``, ``/v1/compare``, ``/get_reward``, ``/slime/reward``.

Every call into the scorer takes this one road, with one error path.

These are the hot path of every trainer, often one sample per request, and
FastAPI's per-request machinery (routing, dependency solving, body parsing,
response validation) cost as much as scoring a cheap item
(bench/hot_path.py, docs/benchmarks.md). So they are served by
:class:`ScoringRoutes`, a plain ASGI layer inside the service's guards
(last-resort error envelope, authentication, body limit), which the app
(rewardgate/api/http/edge.py) runs in front of FastAPI; FastAPI serves every other
route and documents these ones (rewardgate/api/http/scoring_declarations.py).

Contract, the same as FastAPI's would be: the request body is validated once
by the wire model (``model_validate_json``: JSON parsing and validation in
one pass); a bad body is a 422 envelope naming the field (``body.<path>``);
request errors are the error envelope of their status; a client that goes
away cancels its request's work (counted as ``client_disconnected``);
replies carry the ``x-*-time`` headers.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from rewardgate.api.http import compat
from rewardgate.api.http.codec import compare_call, score_call
from rewardgate.api.http.compat_errors import PERMANENT_ERRORS
from rewardgate.api.http.context import AppContext, cancel_on_disconnect, timing_headers
from rewardgate.api.http.errors import describe_validation_errors, envelope_response
from rewardgate.api.http.schemas import (
    CompareRequest,
    OpenRLHFRewardRequest,
    ScoreRequest,
    SlimeRewardRequest,
)
from rewardgate.api.http.simple_score_body import simple_score_call
from rewardgate.core.results import to_json
from rewardgate.errors import InvalidInput, RewardgateError

#: Awaits the scoring work, cancelling it if the client goes away (raises ClientDisconnected).
Guard = Callable[[Awaitable[Any]], Awaitable[Any]]
#: Raw ASGI headers: (name, value) byte strings.
Headers = list[tuple[bytes, bytes]]
#: A handler: (context, body, query, guard) -> (JSON reply, extra headers).
Handler = Callable[[AppContext, bytes, dict[str, str], Guard], Awaitable[tuple[bytes, Headers]]]


def decode(model: type[BaseModel], body: bytes) -> Any:
    """The body validated by ``model`` in one pass.

    Raises:
        InvalidInput: not JSON, or not the model's shape (the message names the field).
    """
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors()
        if errors[0]["type"] == "json_invalid":
            raise InvalidInput(f"body: {errors[0]['msg']} (send UTF-8 JSON)") from None
        raise InvalidInput(describe_validation_errors(errors, location="body")) from None


async def score(ctx: AppContext, body: bytes, query: dict[str, str], guard: Guard) -> tuple[bytes, Headers]:
    # The plainest bodies skip the wire model (the same call: simple_score_body.py).
    call = simple_score_call(body) or score_call(decode(ScoreRequest, body))
    call.forwarded = query.get("forwarded") == "1"  # a peer sent a group's samples to their owner
    with ctx.observe("/v1/score", call.pipeline):
        result, timings = await guard(ctx.core.score(call))
    return to_json(result), timing_headers(timings)


async def compare(ctx: AppContext, body: bytes, query: dict[str, str], guard: Guard) -> tuple[bytes, Headers]:
    request = decode(CompareRequest, body)
    with ctx.observe("/v1/compare", request.pipeline):
        result, timings = await guard(ctx.core.compare(compare_call(request)))
    return to_json(result), timing_headers(timings)


async def get_reward(
    ctx: AppContext, body: bytes, query: dict[str, str], guard: Guard
) -> tuple[bytes, Headers]:
    request = decode(OpenRLHFRewardRequest, body)
    name = query.get("pipeline") or ctx.settings.compat_pipeline
    with ctx.observe("/get_reward", name):
        reply, timings = await guard(compat.get_reward(ctx, request, name))
    return reply.model_dump_json().encode(), timing_headers(timings)


async def slime_reward(
    ctx: AppContext, body: bytes, query: dict[str, str], guard: Guard
) -> tuple[bytes, Headers]:
    request = decode(SlimeRewardRequest, body)
    name = query.get("pipeline") or ctx.settings.compat_pipeline
    components = query.get("components") == "true"
    with ctx.observe("/slime/reward", name):
        reply, timings = await guard(compat.slime_reward(ctx, request, name, components))
    return orjson.dumps(reply), timing_headers(timings)


ROUTES: dict[str, Handler] = {
    "/v1/score": score,
    "/v1/compare": compare,
    "/get_reward": get_reward,
    "/slime/reward": slime_reward,
}


class ScoringRoutes:
    """ASGI middleware serving ``POST`` to :data:`ROUTES`; everything else goes on to ``app``.

    ``on_error(error_type)`` is called for every request error, as FastAPI's
    error handlers do for the other routes.
    """

    def __init__(self, app: ASGIApp, on_error: Callable[[str], None]) -> None:
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = ROUTES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        message = await receive()  # the body; usually one message (the body limit replays it whole)
        if message["type"] != "http.request":
            return  # the client went away before sending its body
        body = message.get("body", b"")
        if message.get("more_body", False):
            body = await _read_rest(receive, body)
            if body is None:
                return
        raw_query = scope["query_string"]
        query = {k: v[-1] for k, v in parse_qs(raw_query.decode("latin-1")).items()} if raw_query else {}
        guard = functools.partial(cancel_on_disconnect, receive)
        try:
            reply, headers = await handler(scope["app"].state.context, body, query, guard)
        except RewardgateError as exc:
            self.on_error(exc.error_type)
            PERMANENT_ERRORS.report(scope["path"], exc.error_type, exc.message, exc.retryable)
            await envelope_response(exc)(scope, receive, send)
            return
        await _send_json(send, reply, headers)


async def _read_rest(receive: Receive, first: bytes) -> bytes | None:
    """The whole body of a request whose body began with ``first`` and has more messages;
    None if the client went away first."""
    chunks = [first]
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(send: Send, body: bytes, headers: Headers) -> None:
    headers[:0] = ((b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
