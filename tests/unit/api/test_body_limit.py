"""The body limit: one-message and multi-message bodies, refusals by declared and by counted size."""

from __future__ import annotations

import orjson

from rewardgate.api.http.body_limit import BodyLimitMiddleware


async def run(messages: list[dict], headers=(), limit: int = 10) -> tuple[list[bytes], list[dict]]:
    """What the inner app received (its bodies) and what was sent, for ``messages`` from the client."""
    received: list[bytes] = []
    sent: list[dict] = []
    queue = list(messages)

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        message = await receive()
        received.append(message["body"])
        assert message["more_body"] is False
        assert (await receive())["type"] == "http.disconnect"  # later reads go to the server

    scope = {"type": "http", "path": "/v1/score", "method": "POST", "headers": list(headers)}
    await BodyLimitMiddleware(app, max_body_bytes=limit)(scope, receive, send)
    return received, sent


def request(body: bytes, more: bool = False) -> dict:
    return {"type": "http.request", "body": body, "more_body": more}


def status_and_type(sent: list[dict]) -> tuple[int, str]:
    return sent[0]["status"], orjson.loads(sent[1]["body"])["error"]["type"]


async def test_a_one_message_body_reaches_the_app_whole():
    assert await run([request(b"0123456789")]) == ([b"0123456789"], [])


async def test_a_body_in_several_messages_reaches_the_app_joined():
    received, sent = await run([request(b"0123", True), request(b"", True), request(b"456789")])
    assert (received, sent) == ([b"0123456789"], [])


async def test_a_declared_length_past_the_limit_is_refused_before_reading():
    received, sent = await run([request(b"x")], headers=[(b"content-length", b"11")])
    assert received == []
    assert status_and_type(sent) == (413, "payload_too_large")


async def test_a_declared_length_that_is_not_a_number_is_left_to_the_count():
    received, sent = await run([request(b"short")], headers=[(b"content-length", b"ten")])
    assert (received, sent) == ([b"short"], [])


async def test_a_one_message_body_past_the_limit_is_refused():
    received, sent = await run([request(b"01234567890")])
    assert received == []
    assert status_and_type(sent) == (413, "payload_too_large")


async def test_a_later_message_passing_the_limit_is_refused():
    received, sent = await run([request(b"012345", True), request(b"6789X", True), request(b"")])
    assert received == []
    assert status_and_type(sent) == (413, "payload_too_large")


async def test_a_client_gone_before_or_during_its_body_gets_nothing():
    assert await run([]) == ([], [])
    assert await run([request(b"0123", True)]) == ([], [])
