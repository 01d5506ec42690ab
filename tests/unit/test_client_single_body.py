"""The sync client's one-item body, written up to its deadline (``single_score_head``), is byte
for byte the general body (``item_dicts``, ``score_body``, ``encode_body``) wherever it is
written, and is not written where the general encoding must decide (``json``'s verdict)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rewardgate_client._http import encode_body, single_score_head
from rewardgate_client._http_blocking import BlockingHttpTransport
from rewardgate_client.client import item_dicts, score_body
from rewardgate_client.types import Item


def general_body(pipeline, items, options, left_s) -> bytes:
    return encode_body(score_body(pipeline, item_dicts(items), options, left_s))


def single_body(pipeline, items, options, left_s) -> bytes | None:
    head = single_score_head(pipeline, items, options)
    return None if head is None else b"%s%d}}" % (head, max(1, int(left_s * 1000)))


@pytest.mark.parametrize(
    ("item", "options"),
    [
        ({"response": "answer 7", "reference": "answer 7"}, {"cache": False}),
        ({"response": "x"}, {}),
        ({}, {}),
        ({"response": "x", "id": "mine"}, {"return_components": True}),
        (
            {"response": 'ünïcödé ✓ \n "q" \\ \x01', "metadata": {"v": [1, 2.5, True]}},
            {"weights": {"a": 0.5}},
        ),
        (
            {"prompt": [{"role": "user", "content": "hi"}], "response": "x", "group": {"id": "g", "size": 4}},
            {},
        ),
    ],
)
@pytest.mark.parametrize("left_s", [60.0, 59.9999, 0.0001, 2.5])
def test_a_plain_item_gets_the_general_bodys_bytes(item, options, left_s):
    written = single_body("exact", [item], options, left_s)
    assert written is not None
    assert written == general_body("exact", [item], options, left_s)


@pytest.mark.parametrize(
    ("pipeline", "items", "options"),
    [
        ("p", [{"response": "x"}, {"response": "y"}], {}),  # two items
        ("p", [Item(response="x")], {}),  # a typed item
        ("p", [{"response": "x"}], {"deadline_ms": 5}),  # the caller's own deadline
        ("p", [{"response": "x", "reference": None}], {}),  # a null: json's verdict
        ("p", [{"response": "x", "metadata": {"v": math.nan}}], {}),  # orjson writes NaN as null
        ("p", [{"response": "x", "metadata": {1: "int key"}}], {}),  # orjson refuses
        ("p", [{"response": "x", "metadata": {"v": 2**70}}], {}),  # beyond 64 bits
        ("p", [{"response": "x"}], {"weights": None}),
        ("nullable", [{"response": "x"}], {}),  # "null" anywhere: as encode_body, json decides
    ],
)
def test_anything_else_is_left_to_the_general_body(pipeline, items, options):
    assert single_score_head(pipeline, items, options) is None


json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded machine
@given(
    pipeline=st.text(max_size=8),
    item=st.dictionaries(st.sampled_from(["response", "prompt", "reference", "id", "metadata"]), json_values),
    options=st.dictionaries(st.sampled_from(["cache", "explain", "weights", "return_steps"]), json_values),
    left_s=st.floats(0.0001, 3600),
)
def test_generated_items_either_match_the_general_body_or_step_aside(pipeline, item, options, left_s):
    written = single_body(pipeline, [item], options, left_s)
    if written is not None:
        assert written == general_body(pipeline, [item], options, left_s)


@pytest.mark.parametrize("left_ms", [1, 9, 10, 59_999, 60_000, 123_456_789])
def test_the_one_item_request_is_the_general_requests_bytes(monkeypatch, left_ms):
    transport = BlockingHttpTransport("http://host:1/base", headers={"Authorization": "Bearer k"})
    sent = []
    monkeypatch.setattr(
        transport,
        "_send",
        lambda request, _timeout_s: sent.append(request) or {"pipeline_hash": "h", "results": []},
    )
    head = single_score_head("exact", [{"response": "x"}], {"cache": False})
    transport.score_single(head, left_ms, 60.0)
    transport._post("/v1/score", b"%s%d}}" % (head, left_ms), 60.0)
    assert sent[0] == sent[1] and sent[0].startswith(b"POST /base/v1/score HTTP/1.1\r\n")
