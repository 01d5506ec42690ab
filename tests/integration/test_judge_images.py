"""VLM judges: an item's images reach every judge kind as the exact OpenAI image_url parts,
change the verdict, and text-only judges refuse image items (scripted server, real socket)."""

import dataclasses
import time

import pytest

from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidComponentInput
from rewardgate.items import ScoringItem
from tests.support.images import data_url, png
from tests.support.judge_sources import judge_sources
from tests.support.openai_server import ScriptedJudgeServer

RED, DARK = png(8, 8, (255, 0, 0)), png(8, 8, (20, 0, 0))
GREEN = png(4, 4, (0, 255, 0))


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedJudgeServer().start()
    yield scripted
    scripted.stop()


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


@pytest.fixture
async def make(server):
    """Factory of judge sources on the scripted server, closed when the test ends."""
    async with judge_sources(server, "scripted-vlm") as build:
        yield build


def image_item(*images: bytes, text="Describe the picture. [[image_score]]", response="A red square.", **kw):
    """An item as the scorer has it: the prompt validated, its images canonical data URLs."""
    content = [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in images]
    prompt = [{"role": "user", "content": [*content, {"type": "text", "text": text}]}]
    call = ScoreCall("p", [CallItem(None, ScoringItem(prompt, response, **kw), None)], CallOptions())
    return validate_call(call, Limits(4, 10_000, 10_000, 60_000)).items[0]


async def judge(source, *items):
    return (await source.compute(list(items), time.monotonic() + 10)).outcomes


KINDS = [
    ("pointwise", {}, {}),
    ("principle", {}, {"metadata": {"principle": "Be accurate."}}),
    ("constraint", {"constraint": "Name the colour."}, {}),
    ("correctness", {}, {"reference": "red"}),
    ("pairwise", {}, {"reference": "A blue square."}),
]


@pytest.mark.parametrize(("kind", "fields", "item_fields"), KINDS, ids=[k for k, _, _ in KINDS])
async def test_every_kind_sends_the_images_as_image_url_parts_in_order(
    server, make, kind, fields, item_fields
):
    source = make(kind, **fields)
    (outcome,) = await judge(source, image_item(RED, GREEN, text="Describe the picture.", **item_fields))
    assert isinstance(outcome, list), outcome
    calls = server.calls
    assert len(calls) == (2 if kind == "pairwise" else 1)  # pairwise: both orders, each with the images
    for call in calls:
        parts = call["parts"]
        assert parts[:2] == [
            {"type": "image_url", "image_url": {"url": data_url(RED)}},
            {"type": "image_url", "image_url": {"url": data_url(GREEN)}},
        ]
        assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
        assert "user: [image]\n[image]\nDescribe the picture." in parts[2]["text"]
        assert call["body"]["messages"][0]["role"] == "system"


async def test_the_image_changes_the_verdict(make):
    source = make("pointwise")
    red, dark = await judge(source, image_item(RED), image_item(DARK))
    assert red == [1.0] and dark[0] < 0.2  # scale 1..10: the red image scores 10, the dark one 1


async def test_a_text_item_is_sent_as_text(server, make):
    source = make("pointwise")
    await judge(source, ScoringItem("Boil an egg? [[score=7]]", "Ten minutes."))
    assert server.calls[0]["parts"] is None and isinstance(
        server.calls[0]["body"]["messages"][1]["content"], str
    )


@pytest.mark.parametrize(("kind", "fields", "item_fields"), KINDS, ids=[k for k, _, _ in KINDS])
async def test_a_text_only_judge_refuses_image_items_without_calling(server, make, kind, fields, item_fields):
    source = make(kind, vision=False, **fields)
    text_item = ScoringItem("Plain question [[score=5]] [[verdict=yes]]", "answer", **item_fields)
    image, text = await judge(source, image_item(RED, **item_fields), text_item)
    assert isinstance(image, InvalidComponentInput) and "text-only" in str(image)
    assert isinstance(text, list)
    assert all(call["parts"] is None for call in server.calls)  # only the text item was sent


async def test_a_placeholder_image_is_refused_not_dropped(server, make):
    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
    (outcome,) = await judge(make("pointwise"), ScoringItem(prompt, "A cat."))
    assert isinstance(outcome, InvalidComponentInput) and "placeholder" in str(outcome)
    assert server.calls == []


def generated(image: bytes, text="Draw a red square. [[image_score]]"):
    """An image-generation item as the scorer has it: a text prompt, the response an image."""
    call = ScoreCall(
        "p",
        [CallItem(None, ScoringItem(text, "", response_images=(data_url(image),)), None)],
        CallOptions(),
    )
    return validate_call(call, Limits(4, 10_000, 10_000, 60_000)).items[0]


async def test_response_images_are_judged_after_the_prompt_images(server, make):
    red, dark = await judge(make("pointwise"), generated(RED), generated(DARK))
    assert red == [1.0] and dark[0] < 0.2  # the scripted VLM scores the first image: the response's
    parts = server.calls[0]["parts"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": data_url(RED)}}
    assert "[response image 1]" in parts[-1]["text"]


async def test_pairwise_and_text_only_judges_refuse_image_responses(server, make):
    (pairwise,) = await judge(make("pairwise"), dataclasses.replace(generated(RED), reference="a text"))
    (blind,) = await judge(make("pointwise", vision=False), generated(RED))
    assert isinstance(pairwise, InvalidComponentInput) and "image response" in str(pairwise)
    assert isinstance(blind, InvalidComponentInput) and "text-only" in str(blind)
    assert server.calls == []
