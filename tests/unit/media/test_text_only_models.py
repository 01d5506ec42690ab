"""Which items a text-only model refuses: images in the fields it reads (sources/model/text_only.py)."""

import pytest

from rewardgate.errors import InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.sources.model.text_only import image_refusal, with_response_images

URL = "data:image/png;base64,iVBORw0KGgo="
IMAGE_PROMPT = [{"role": "user", "content": [{"type": "image", "image": URL}, {"type": "text", "text": "?"}]}]
PLACEHOLDER_PROMPT = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}]


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        (("prompt", "response"), ("prompt", "response", "response_images")),
        (("prompt", "steps"), ("prompt", "steps", "response_images")),
        (("response", "reference"), ("response", "reference", "response_images")),
        (("prompt", "response", "response_images"), ("prompt", "response", "response_images")),
        (("prompt", "reference"), ("prompt", "reference")),  # no response read: nothing to add
    ],
)
def test_response_images_join_the_fields_of_a_model_reading_the_response(reads, expected):
    assert with_response_images(reads) == expected


@pytest.mark.parametrize(
    ("item", "reads", "words"),
    [
        (ScoringItem(IMAGE_PROMPT, "x"), ("prompt", "response"), "1 in its prompt"),
        (ScoringItem(PLACEHOLDER_PROMPT, "x"), ("prompt", "steps"), "1 in its prompt"),
        (
            ScoringItem("draw", "", response_images=(URL, URL)),
            ("prompt", "response"),
            "2 in its response_images",
        ),
        (
            ScoringItem("draw", "", response_images=(URL,)),
            ("response", "reference"),
            "1 in its response_images",
        ),
        (
            ScoringItem(IMAGE_PROMPT, "", response_images=(URL,)),
            ("prompt", "response"),
            "1 in its prompt, 1 in its response_images",
        ),
    ],
)
def test_images_in_what_the_model_reads_are_refused(item, reads, words):
    refusal = image_refusal(item, reads, "reward_model")
    assert isinstance(refusal, InvalidComponentInput) and refusal.cause == "input"
    assert words in str(refusal) and "a reward_model model is text-only" in str(refusal)


@pytest.mark.parametrize(
    ("item", "reads"),
    [
        (ScoringItem("What is 2+2?", "4"), ("prompt", "response")),
        (
            ScoringItem([{"role": "user", "content": [{"type": "text", "text": "?"}]}], "4"),
            ("prompt", "response"),
        ),
        (ScoringItem(IMAGE_PROMPT, "4", reference="4"), ("response", "reference")),  # similarity: no prompt
    ],
)
def test_text_or_unread_images_are_not_refused(item, reads):
    assert image_refusal(item, reads, "similarity") is None
