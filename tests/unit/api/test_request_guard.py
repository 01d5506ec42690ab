"""The outermost HTTP guard: counts, the last resort and the reason phrase, in one ``send`` wrapper."""

from __future__ import annotations

import orjson
import pytest

from rewardgate.api.context import ClientDisconnected
from rewardgate.api.http.reason_phrase import REASON_EXTENSION, REASON_KEY
from rewardgate.api.http.request_count import mark_counted
from rewardgate.api.http.request_guard import RequestGuard
from rewardgate.observability.metrics import Metrics

ROUTES = (frozenset({"/v1/score", "/get_reward"}), ("/assets/",))


class Guarded:
    """A RequestGuard around ``app``, with what it sent, counted and recorded."""

    def __init__(self, app) -> None:
        self.metrics = Metrics()
        self.recorded: list[str] = []
        self.sent: list[dict] = []
        self.guard = RequestGuard(app, self.metrics, routes=lambda: ROUTES, record=self.recorded.append)

    async def __call__(self, path: str = "/v1/score", offered: bool = False) -> None:
        async def send(message):
            self.sent.append(message)

        scope = {"type": "http", "path": path, "extensions": {REASON_EXTENSION: {}} if offered else {}}
        await self.guard(scope, None, send)

    def count(self, route: str, status: int) -> float:
        value = self.metrics.registry.get_sample_value(
            "rewardgate_requests_total", {"route": route, "pipeline": "unknown", "status": str(status)}
        )
        return value or 0.0

    def counted(self) -> float:
        return sum(
            sample.value
            for metric in self.metrics.registry.collect()
            if metric.name == "rewardgate_requests"
            for sample in metric.samples
            if sample.name == "rewardgate_requests_total"
        )


def replying(status: int, body: bytes = b"{}", then=None):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})
        if then is not None:
            raise then

    return app


def raising(exc: BaseException):
    async def app(scope, receive, send):
        raise exc

    return app


async def test_a_reply_is_passed_on_and_counted_once_by_route_and_status():
    guarded = Guarded(replying(404))
    await guarded("/nowhere")
    assert [m["type"] for m in guarded.sent] == ["http.response.start", "http.response.body"]
    assert guarded.count("unmatched", 404) == 1
    assert guarded.counted() == 1


async def test_a_mount_counts_under_its_prefix():
    guarded = Guarded(replying(200))
    await guarded("/assets/app.js")
    assert guarded.count("/assets", 200) == 1


async def test_a_request_its_handler_counted_is_not_counted_again():
    async def app(scope, receive, send):
        mark_counted()
        await replying(200)(scope, receive, send)

    guarded = Guarded(app)
    await guarded()
    assert guarded.counted() == 0


async def test_an_unexpected_exception_is_a_500_envelope_counted_and_recorded_not_raised():
    guarded = Guarded(raising(RuntimeError("boom")))
    await guarded()
    start, body = guarded.sent
    assert start["status"] == 500
    assert orjson.loads(body["body"])["error"] == {
        "type": "internal",
        "message": "internal error: RuntimeError",
        "retryable": False,
    }
    assert guarded.recorded == ["internal"]
    assert guarded.count("/v1/score", 500) == 1


async def test_an_exception_after_the_reply_started_sends_nothing_more():
    guarded = Guarded(replying(200, then=ValueError("late")))
    await guarded()
    assert len(guarded.sent) == 2
    assert guarded.recorded == ["internal"]
    assert guarded.count("/v1/score", 200) == 1


async def test_a_client_gone_is_no_reply_counted_as_499_and_no_internal_error():
    guarded = Guarded(raising(ClientDisconnected()))
    await guarded()
    assert guarded.sent == []
    assert guarded.recorded == ["client_disconnected"]
    assert guarded.count("/v1/score", 499) == 1


async def test_a_cancellation_is_counted_and_propagates():
    import asyncio

    guarded = Guarded(raising(asyncio.CancelledError()))
    with pytest.raises(asyncio.CancelledError):
        await guarded()
    assert guarded.recorded == []
    assert guarded.count("/v1/score", 499) == 1


async def test_the_500_envelope_of_a_compat_route_names_its_error_in_the_reason_phrase():
    guarded = Guarded(raising(RuntimeError("boom")))
    await guarded("/get_reward", offered=True)
    assert guarded.sent[0][REASON_KEY] == "Internal Server Error: internal: internal error: RuntimeError"
    assert guarded.count("/get_reward", 500) == 1


async def test_other_scopes_pass_through_uncounted():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    guarded = Guarded(app)
    await guarded.guard({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]
    assert guarded.counted() == 0
