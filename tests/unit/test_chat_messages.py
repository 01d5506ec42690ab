"""Chat messages with content parts and tool turns: one shape on both transports, one text view."""

import pytest
from rewardgate_client._grpc import item_to_proto
from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.api.grpc.codec import score_call
from rewardgate.api.http.codec import score_call as http_score_call
from rewardgate.api.http.schemas import ScoreRequest
from rewardgate.chat import content_text, for_chat_template, readable, text_size
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidInput
from tests.support.images import data_url, png

LIMITS = Limits(10, 10_000, 1000, 10_000)

CONVERSATIONS = [
    [
        {"role": "system", "content": None},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_url(png()), "detail": "low"}},
                {"type": "text", "text": "What is shown?"},
                {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}, "seconds": 2},
            ],
        },
    ],
    [
        {"role": "user", "content": "6 x 7?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "use the tool",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "mul", "arguments": {"a": 6, "b": 7, "exact": True}},
                },
                {"id": "c2", "type": "function", "function": {"name": "mul", "arguments": '{"a": 6}'}},
            ],
        },
        {"role": "tool", "name": "mul", "tool_call_id": "c2", "content": "42"},
    ],
    [{"role": "user", "content": []}],
]


def _over_http(prompt):
    request = ScoreRequest.model_validate({"pipeline": "p", "items": [{"prompt": prompt, "response": "r"}]})
    return validate_call(http_score_call(request), LIMITS).items[0]


def _over_grpc(prompt):
    # Validated, as the scorer does: an image is made canonical there (bytes on gRPC, a data URL on HTTP).
    message = pb.ScoreRequest(pipeline="p", items=[item_to_proto({"prompt": prompt, "response": "r"})])
    return validate_call(score_call(message, None), LIMITS).items[0]


@pytest.mark.parametrize("prompt", CONVERSATIONS, ids=["vision", "tools", "empty-parts"])
def test_both_transports_give_the_same_scoring_item(prompt):
    assert _over_grpc(prompt) == _over_http(prompt)


def test_the_canonical_message_keeps_what_was_sent_and_nothing_unset_but_images_by_content():
    vision, tools, empty = (_over_http(prompt).prompt for prompt in CONVERSATIONS)
    assert vision[0] == {"role": "system", "content": ""}
    # An image part is made canonical by its content (rewardgate/media/parts.py).
    assert vision[1]["content"][0] == {"type": "image", "image": data_url(png())}
    assert tools[1]["tool_calls"][0]["function"]["arguments"] == {"a": 6, "b": 7, "exact": True}
    assert tools[2] == {"role": "tool", "content": "42", "name": "mul", "tool_call_id": "c2"}
    assert empty == [{"role": "user", "content": ""}]


def test_text_views_of_a_conversation():
    vision, tools, _ = (_over_http(prompt).prompt for prompt in CONVERSATIONS)
    assert content_text(vision[1]) == "What is shown?"
    assert for_chat_template(vision)[1]["content"] == "What is shown?"
    assert for_chat_template(tools)[1]["tool_calls"] == tools[1]["tool_calls"]
    assert readable(vision[1]) == "user: [image]\nWhat is shown?\n[input_audio]"
    assert readable(tools[1]) == (
        'assistant: [tool call] mul({"a": 6, "b": 7, "exact": true})\n[tool call] mul({"a": 6})'
    )
    assert readable(tools[2]) == "tool (mul): 42"
    assert text_size(tools[2]) == len("tool") + len("42") + len("mul") + len("c2")


def _grpc_message(**fields) -> pb.ScoreRequest:
    return pb.ScoreRequest(pipeline="p", items=[pb.Item(response="r", messages=[pb.ChatMessage(**fields)])])


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"role": "user", "content": "a", "parts": [pb.ContentPart(type="text", text="b")]}, "not both"),
        (
            {"role": "assistant", "tool_calls": [pb.ToolCall(name="f", arguments_json="{oops")]},
            "not valid JSON",
        ),
        (
            {"role": "assistant", "tool_calls": [pb.ToolCall(name="f", arguments_json="[" * 5000)]},
            "not valid JSON",
        ),
        (
            {"role": "user", "parts": [pb.ContentPart(type="image", fields={"type": "text"})]},
            "fields of the part",
        ),
        ({"role": "user", "parts": [pb.ContentPart(type="")]}, "type"),
    ],
    ids=["content-and-parts", "bad-arguments", "deep-arguments", "type-in-fields", "empty-type"],
)
def test_malformed_grpc_messages_are_invalid_input(fields, problem):
    with pytest.raises(InvalidInput, match=problem):
        score_call(_grpc_message(**fields), None)
