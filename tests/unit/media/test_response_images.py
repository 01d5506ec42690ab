"""Image-generation rewards: the response's images are checked, canonical and the same on both transports."""

import pytest
from rewardgate_client._grpc import item_to_proto
from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.api.grpc.codec import score_call
from rewardgate.api.http.codec import score_call as http_score_call
from rewardgate.api.http.schemas import ScoreRequest
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidInput, PayloadTooLarge
from rewardgate.store.cache import cache_key
from tests.support.images import data_url, jpeg, png, png_bomb

LIMITS = Limits(10, 1000, 1000, 10_000)


def over_http(item):
    return validate_call(
        http_score_call(ScoreRequest.model_validate({"pipeline": "p", "items": [item]})), LIMITS
    )


def over_grpc(item):
    return validate_call(score_call(pb.ScoreRequest(pipeline="p", items=[item_to_proto(item)]), None), LIMITS)


def test_response_images_are_canonical_and_one_item_on_both_transports():
    item = {
        "prompt": "Draw a red square.",
        "response": "",
        "response_images": [data_url(png()), data_url(jpeg(), "image/jpeg")],
    }
    (http,) = over_http(item).items
    (grpc,) = over_grpc(item).items
    assert http == grpc
    assert http.response_images == (data_url(png()), data_url(jpeg(), "image/jpeg"))
    assert item_to_proto(item).response_images[0] == png()  # bytes on gRPC


def test_the_cache_key_of_a_reader_changes_with_the_response_image():
    reads = ("prompt", "response", "response_images")
    keys = {
        cache_key(
            "f",
            reads,
            over_http({"prompt": "p", "response": "", "response_images": [data_url(image)]}).items[0],
        )
        for image in (png(), png(color=(0, 0, 0)))
    }
    assert len(keys) == 2


@pytest.mark.parametrize(
    ("image", "error", "words"),
    [
        (data_url(png()[:40]), InvalidInput, r"items\[0\]\.response_images\[1\]: "),
        ("https://example.org/x.png", InvalidInput, "not fetched"),
        (data_url(png_bomb(5000, 5000)), PayloadTooLarge, "pixels"),
    ],
)
def test_bad_response_images_are_refused_naming_the_image(image, error, words):
    with pytest.raises(error, match=words):
        over_http({"prompt": "p", "response": "", "response_images": [data_url(png()), image]})
