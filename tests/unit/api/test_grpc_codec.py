"""The gRPC codec: protobuf -> the core's calls, with no HTTP model in between.

A conversation must become the same ScoringItem on both transports (one
cache key), the call's deadline is the tighter of the requested one and the
caller's gRPC deadline, and what protobuf cannot check is InvalidInput
naming the field.
"""

from __future__ import annotations

import math

import pytest
from google.protobuf import struct_pb2
from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.api.grpc import codec
from rewardgate.api.http import codec as http_codec
from rewardgate.api.http.schemas import CompareRequest, ScoreRequest
from rewardgate.errors import InvalidInput


def test_a_conversation_is_the_same_item_on_both_transports():
    messages = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "2+2?"}, {"type": "image_url", "image_url": {"url": "u"}}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}],
        },
        {"role": "tool", "content": "4", "tool_call_id": "c1", "name": "add"},
    ]
    http_item = (
        http_codec.score_call(
            ScoreRequest.model_validate({"pipeline": "p", "items": [{"prompt": messages, "response": "4"}]})
        )
        .items[0]
        .item
    )
    image = struct_pb2.Struct()
    image.update({"image_url": {"url": "u"}})
    message = pb.ScoreRequest(
        pipeline="p",
        items=[
            pb.Item(
                response="4",
                messages=[
                    pb.ChatMessage(role="system", content="Be brief."),
                    pb.ChatMessage(
                        role="user",
                        parts=[
                            pb.ContentPart(type="text", text="2+2?"),
                            pb.ContentPart(type="image_url", fields=image),
                        ],
                    ),
                    pb.ChatMessage(
                        role="assistant",
                        tool_calls=[pb.ToolCall(id="c1", name="add", arguments_json='{"a": 2, "b": 2}')],
                    ),
                    pb.ChatMessage(role="tool", content="4", tool_call_id="c1", name="add"),
                ],
            )
        ],
    )
    grpc_item = codec.score_call(message, None).items[0].item
    assert grpc_item == http_item


@pytest.mark.parametrize(
    ("http_group", "grpc_group", "expected"),
    [
        (None, {}, (None, None)),
        ("g", {"group": "g"}, ("g", None)),
        ({"id": "g", "size": 8}, {"group": "g", "group_size": 8}, ("g", 8)),
    ],
)
def test_a_group_and_its_size_are_the_same_on_both_transports(http_group, grpc_group, expected):
    """A sized group (docs/groups.md) reaches the core as the same (group, group_size) either way."""
    item = {"id": "s1", "prompt": "q", "response": "r"}
    if http_group is not None:
        item["group"] = http_group
    http_entry = http_codec.score_call(ScoreRequest.model_validate({"pipeline": "p", "items": [item]})).items[
        0
    ]
    message = pb.ScoreRequest(pipeline="p", items=[pb.Item(id="s1", prompt="q", response="r", **grpc_group)])
    grpc_entry = codec.score_call(message, None).items[0]
    assert (http_entry.group, http_entry.group_size) == (grpc_entry.group, grpc_entry.group_size) == expected
    assert grpc_entry == http_entry


@pytest.mark.parametrize(
    ("requested", "remaining_s", "expected"),
    [
        (None, None, None),
        (5000, None, 5000),
        (None, 2.0, 2000),
        (5000, 2.0, 2000),
        (1000, 2.0, 1000),
        (None, 0.0, 1),
    ],
)
def test_the_deadline_is_the_tighter_of_the_request_and_the_caller(requested, remaining_s, expected):
    options = pb.ScoreOptions(deadline_ms=requested) if requested else pb.ScoreOptions()
    call = codec.score_call(
        pb.ScoreRequest(pipeline="p", items=[pb.Item(response="r")], options=options), remaining_s
    )
    assert call.options.deadline_ms == expected
    compare = codec.compare_call(
        pb.CompareRequest(
            pipeline="p",
            pairs=[pb.ComparePair(response_a="a", response_b="b")],
            options=pb.CompareOptions(deadline_ms=requested) if requested else pb.CompareOptions(),
        ),
        remaining_s,
    )
    assert compare.options.deadline_ms == expected


def test_compare_matches_the_http_codec():
    metadata = struct_pb2.Struct()
    metadata.update({"task": "geo", "n": 2})
    message = pb.CompareRequest(
        pipeline="p",
        pairs=[
            pb.ComparePair(
                id="x",
                prompt="Capital?",
                response_a="Paris",
                response_b="Lyon",
                reference="Paris",
                metadata=metadata,
            )
        ],
        options=pb.CompareOptions(beta=2.5, cache=False, explain=True, return_components=False),
    )
    expected = http_codec.compare_call(
        CompareRequest.model_validate(
            {
                "pipeline": "p",
                "pairs": [
                    {
                        "id": "x",
                        "prompt": "Capital?",
                        "response_a": "Paris",
                        "response_b": "Lyon",
                        "reference": "Paris",
                        "metadata": {"task": "geo", "n": 2},
                    }
                ],
                "options": {"beta": 2.5, "cache": False, "explain": True, "return_components": False},
            }
        )
    )
    assert codec.compare_call(message, None) == expected


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            pb.ScoreRequest(
                pipeline="p",
                items=[
                    pb.Item(
                        response="r",
                        messages=[
                            pb.ChatMessage(
                                role="user", content="x", parts=[pb.ContentPart(type="text", text="y")]
                            )
                        ],
                    )
                ],
            ),
            "messages[].content, messages[].parts",
        ),
        (
            pb.ScoreRequest(
                pipeline="p",
                items=[
                    pb.Item(
                        response="r",
                        messages=[
                            pb.ChatMessage(
                                role="assistant", tool_calls=[pb.ToolCall(name="f", arguments_json="{nope")]
                            )
                        ],
                    )
                ],
            ),
            "arguments_json",
        ),
        (
            pb.ScoreRequest(
                pipeline="p", items=[pb.Item(response="r")], options=pb.ScoreOptions(deadline_ms=0)
            ),
            "options.deadline_ms",
        ),
    ],
)
def test_what_protobuf_cannot_check_is_invalid_input_naming_the_field(message, field):
    with pytest.raises(InvalidInput) as raised:
        codec.score_call(message, None)
    assert field in raised.value.message


def test_non_finite_metadata_is_invalid_input():
    metadata = struct_pb2.Struct()
    metadata.update({"x": math.nan})
    with pytest.raises(InvalidInput, match="metadata"):
        codec.score_call(
            pb.ScoreRequest(pipeline="p", items=[pb.Item(response="r", metadata=metadata)]), None
        )
    with pytest.raises(InvalidInput, match="metadata"):
        codec.compare_call(
            pb.CompareRequest(
                pipeline="p", pairs=[pb.ComparePair(response_a="a", response_b="b", metadata=metadata)]
            ),
            None,
        )


def test_too_deep_metadata_is_invalid_input():
    deep: dict = {}
    node = deep
    for _ in range(33):  # deeper than a request may nest (rewardgate/plain_json.py: 32)
        node["d"] = {}
        node = node["d"]
    metadata = struct_pb2.Struct()
    metadata.update(deep)
    with pytest.raises(InvalidInput):
        codec.compare_call(
            pb.CompareRequest(
                pipeline="p", pairs=[pb.ComparePair(response_a="a", response_b="b", metadata=metadata)]
            ),
            None,
        )
