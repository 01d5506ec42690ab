"""An image is one item whichever transport carried it: bytes on gRPC, a data URL on HTTP."""

import pytest
from rewardgate_client._grpc import item_to_proto
from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.api.grpc.codec import score_call
from rewardgate.api.http.codec import score_call as http_score_call
from rewardgate.api.http.schemas import ScoreRequest
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidInput
from tests.support.images import data_url, image_message, jpeg, png

LIMITS = Limits(10, 1000, 1000, 10_000)


def validated_http(prompt):
    request = ScoreRequest.model_validate({"pipeline": "p", "items": [{"prompt": prompt, "response": "r"}]})
    return validate_call(http_score_call(request), LIMITS).items[0]


def validated_grpc(message: pb.ScoreRequest):
    return validate_call(score_call(message, None), LIMITS).items[0]


def test_the_client_sends_bytes_and_the_item_is_the_same_as_over_http():
    prompt = [image_message(png())]
    proto = item_to_proto({"prompt": prompt, "response": "r"})
    part = proto.messages[0].parts[0]
    assert part.image == png() and part.mime_type == "image/png" and not part.HasField("fields")
    assert validated_grpc(pb.ScoreRequest(pipeline="p", items=[proto])) == validated_http(prompt)


def test_bytes_without_a_declared_type_are_detected():
    part = pb.ContentPart(type="image", image=jpeg())
    message = pb.ChatMessage(role="user", parts=[part])
    item = validated_grpc(pb.ScoreRequest(pipeline="p", items=[pb.Item(messages=[message], response="r")]))
    assert item.prompt[0]["content"] == [{"type": "image", "image": data_url(jpeg(), "image/jpeg")}]


@pytest.mark.parametrize(
    ("part", "words"),
    [
        (pb.ContentPart(type="image", image=png(), mime_type="image/gif"), "declared as 'image/gif'"),
        (pb.ContentPart(type="image", image=png()[:50]), r"items\[0\]\.prompt\[0\]\.content\[0\]"),
    ],
)
def test_bad_bytes_are_refused_as_on_http(part, words):
    message = pb.ChatMessage(role="user", parts=[part])
    with pytest.raises(InvalidInput, match=words):
        validated_grpc(pb.ScoreRequest(pipeline="p", items=[pb.Item(messages=[message], response="r")]))


def test_bytes_and_a_source_in_fields_together_are_refused():
    part = pb.ContentPart(type="image", image=png())
    part.fields.update({"image_url": {"url": "https://example.org/x.png"}})
    message = pb.ChatMessage(role="user", parts=[part])
    with pytest.raises(InvalidInput, match="either 'image' bytes or a source"):
        score_call(pb.ScoreRequest(pipeline="p", items=[pb.Item(messages=[message], response="r")]), None)


def test_bytes_on_a_text_part_are_refused():
    message = pb.ChatMessage(role="user", parts=[pb.ContentPart(type="text", text="hi", image=png())])
    with pytest.raises(InvalidInput, match="not 'image'"):
        score_call(pb.ScoreRequest(pipeline="p", items=[pb.Item(messages=[message], response="r")]), None)
