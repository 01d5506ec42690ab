"""The compat routes' reason phrases: what a phrase may hold, and when the outermost guard sets one."""

from __future__ import annotations

import orjson
import pytest

from rewardgate.api.http.reason_phrase import (
    MAX_REASON_CHARS,
    REASON_EXTENSION,
    REASON_KEY,
    error_reason,
    sanitise_reason,
)
from rewardgate.api.http.request_guard import RequestGuard
from rewardgate.observability.metrics import Metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("query[0]: empty", "query[0]: empty"),
        ("a\r\nSet-Cookie: x=1\r\n\r\nb", "a Set-Cookie: x=1 b"),
        ("tab\there\x00nul\x7fdel", "tab here nul del"),
        ("caf\u00e9 na\u00efve \u2713 \u4e2d", "cafe naive ? ?"),
        ("  padded   out  ", "padded out"),
    ],
)
def test_a_reason_is_one_line_of_printable_ascii(text, expected):
    assert sanitise_reason(text) == expected


def test_a_long_reason_is_cut_and_says_so():
    reason = sanitise_reason("x" * 1000)
    assert len(reason) == MAX_REASON_CHARS
    assert reason.endswith("...")


def envelope(error_type: str, message: str) -> bytes:
    return orjson.dumps({"error": {"type": error_type, "message": message, "retryable": False}})


def test_the_reason_of_an_envelope_names_status_type_and_message():
    assert error_reason(422, envelope("invalid_input", "query: empty")) == (
        "Unprocessable Entity: invalid_input: query: empty"
    )
    assert error_reason(599, envelope("odd", "m")) == "Error: odd: m"


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"error": "x"}', b'{"error": {"type": 1, "message": "m"}}']
)
def test_a_body_that_is_not_the_envelope_has_no_reason(body):
    assert error_reason(422, body) is None


def error_app(status: int, chunks: list[bytes]):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": []})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})

    return app


async def run(app, path: str = "/get_reward", offered: bool = True) -> list[dict]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "extensions": {REASON_EXTENSION: {}} if offered else {}}
    guard = RequestGuard(app, Metrics(), routes=lambda: (frozenset(), ()), record=lambda error_type: None)
    await guard(scope, None, send)
    return sent


async def test_an_error_envelope_sent_in_pieces_gets_its_reason_and_its_whole_body():
    body = envelope("invalid_input", "labels: has 1 entries but query has 2")
    sent = await run(error_app(422, [body[:10], body[10:]]))
    assert sent[0][REASON_KEY] == "Unprocessable Entity: invalid_input: labels: has 1 entries but query has 2"
    assert b"".join(m["body"] for m in sent[1:]) == body
    assert not sent[-1].get("more_body")


@pytest.mark.parametrize(
    ("status", "path", "offered"),
    [(200, "/get_reward", True), (422, "/v1/score", True), (422, "/slime/reward", False)],
)
async def test_success_other_routes_and_servers_without_the_extension_pass_untouched(status, path, offered):
    body = envelope("invalid_input", "m")
    sent = await run(error_app(status, [body]), path, offered)
    assert sent == [
        {"type": "http.response.start", "status": status, "headers": []},
        {"type": "http.response.body", "body": body, "more_body": False},
    ]
