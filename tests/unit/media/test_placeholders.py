"""OpenRLHF VLM samples: repeated image placeholders do not hide the prompt in its query."""

import pytest

from rewardgate.api.http.compat import openrlhf_items
from rewardgate.api.http.schemas import OpenRLHFRewardRequest
from rewardgate.media.placeholders import collapse_placeholders


@pytest.mark.parametrize(
    ("text", "collapsed"),
    [
        ("<image>" * 576 + "Hi", "<image>Hi"),
        (
            "<|vision_start|>" + "<|image_pad|>" * 9 + "<|vision_end|>",
            "<|vision_start|><|image_pad|><|vision_end|>",
        ),
        ("<img><IMG_CONTEXT><IMG_CONTEXT></img> and <image><image>", "<img><IMG_CONTEXT></img> and <image>"),
        ("no placeholders <b>", "no placeholders <b>"),
    ],
)
def test_runs_collapse_to_one_token(text, collapsed):
    assert collapse_placeholders(text) == collapsed


def response_of(query: str, prompt: str) -> str:
    body = OpenRLHFRewardRequest.model_validate({"query": [query], "prompts": [prompt]})
    return openrlhf_items(body)[0].item.response


def test_the_response_is_separated_from_an_expanded_prompt():
    prompt = "<s>USER: <image><image>\nCompare. ASSISTANT:"  # two images, each one placeholder
    query = "<s>USER: " + "<image>" * 576 + "\nCompare. ASSISTANT: The left one."
    assert response_of(query, prompt) == " The left one."


def test_a_query_without_its_prompt_is_scored_whole_never_refused():
    # rewardgate_client.prompts: no start or end of the prompt in the query -> the whole query.
    assert response_of("<image>" * 4 + "other text", "<image>Compare.") == "<image>other text"
