"""A VLM reward model (tiny random LLaVA built locally) through the real loading code:
batching does not change rewards, the image does, image tokens count in the budget."""

import pytest

from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.sources.model.random_vision import build_vision_reward_model
from rewardgate.sources.model.runners.vision_reward_model import VisionRewardModelRunner
from tests.support.images import data_url, png

pytestmark = pytest.mark.slow

RED, BLUE = png(64, 48, (255, 0, 0)), png(30, 90, (0, 0, 255), box=(5, 5, 20, 20))


def canonical(prompt, response="A square.") -> ScoringItem:
    """The item as the scorer has it after validation (canonical image parts)."""
    call = ScoreCall("p", [CallItem(None, ScoringItem(prompt, response), None)], CallOptions())
    return validate_call(call, Limits(4, 10_000, 10_000, 60_000)).items[0]


def with_images(*images, text="What colour is it?", response="A square."):
    parts = [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in images]
    return canonical([{"role": "user", "content": [*parts, {"type": "text", "text": text}]}], response)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return VisionRewardModelRunner(build_vision_reward_model(tmp_path_factory.mktemp("vlm"), num_labels=2))


def test_batched_equals_one_at_a_time_with_and_without_images(runner):
    items = [
        with_images(RED),
        with_images(BLUE, RED, text="Compare them."),
        canonical("What is two plus two?", "four"),
        with_images(BLUE, response="The answer is four, because two plus two is four."),
    ]
    work = runner.encode_many(items)
    batched = runner.forward([w.payload for w in work])
    for w, row in zip(work, batched, strict=True):
        assert runner.forward([w.payload])[0] == pytest.approx(row, abs=1e-4)
    assert len({round(row[0], 4) for row in batched}) == len(items)
    assert runner.head_names == ["head0", "head1"]


def test_the_image_changes_the_reward(runner):
    red, blue, again = (runner.encode_many([with_images(image)])[0] for image in (RED, BLUE, RED))
    scores = runner.forward([red.payload, blue.payload, again.payload])
    assert scores[0] != pytest.approx(scores[1], abs=1e-4)
    assert scores[0] == pytest.approx(scores[2], abs=1e-6)


def test_the_budget_length_counts_image_tokens(runner):
    (text_only,) = runner.encode_many([canonical([{"role": "user", "content": "What colour is it?"}])])
    (one,) = runner.encode_many([with_images(RED)])
    (two,) = runner.encode_many([with_images(RED, BLUE)])
    per_image = one.length - text_only.length
    assert per_image == 16  # 56x56 pixels in 14x14 patches, as the processor expands <image>
    assert two.length - one.length == per_image


def test_placeholders_and_overlong_items_are_per_item_errors(runner, tmp_path):
    placeholder = ScoringItem(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}], "x"
    )
    bad, good = runner.encode_many([placeholder, with_images(RED)])
    assert isinstance(bad, InvalidComponentInput) and "placeholder" in str(bad)
    assert not isinstance(good, Exception)
    short = VisionRewardModelRunner(runner.path, max_length=20)
    (too_long,) = short.encode_many([with_images(RED)])
    assert isinstance(too_long, InvalidComponentInput) and "image tokens included" in str(too_long)


def test_an_image_response_is_scored_with_its_pixels(runner):
    """Image-generation rewards: the response's images go in the assistant turn."""

    def generated(image):
        item = ScoringItem("Draw a red square.", "", response_images=(data_url(image),))
        call = ScoreCall("p", [CallItem(None, item, None)], CallOptions())
        return validate_call(call, Limits(4, 10_000, 10_000, 60_000)).items[0]

    red, blue = runner.encode_many([generated(RED), generated(BLUE)])
    (text_only,) = runner.encode_many([canonical("Draw a red square.", "")])
    assert red.length - text_only.length == 16  # the response image's tokens
    scores = runner.forward([red.payload, blue.payload])
    assert scores[0] != pytest.approx(scores[1], abs=1e-4)
    assert runner.forward([red.payload])[0] == pytest.approx(scores[0], abs=1e-4)
