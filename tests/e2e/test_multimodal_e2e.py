"""Images end to end: a running service, both transports, a VLM reward model, a VLM judge
(scripted OpenAI server), vision rules, the cache, and typed refusals."""

import asyncio
import uuid
from types import SimpleNamespace

import httpx
import pytest
from PIL import Image
from rewardgate_client import InvalidInput, PayloadTooLarge, RewardClient
from rewardgate_client.integrations.slime import make_reward
from rewardgate_client.integrations.verl import make_compute_score

from rewardgate.sources.model.random_vision import build_vision_reward_model
from tests.e2e.conftest import write_config
from tests.support.images import data_url, png, png_bomb
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow

RED, DARK = png(200, 100, (255, 0, 0)), png(200, 100, (30, 0, 0))


@pytest.fixture(scope="module")
def service(tmp_path_factory, judge_server):
    workdir = tmp_path_factory.mktemp("multimodal")
    vlm = build_vision_reward_model(workdir / "vlm")
    config = write_config(
        workdir / "pipelines.yaml",
        {
            "models": {
                "vlm": {"kind": "vision_reward_model", "path": str(vlm), "batching": {"max_wait_ms": 5}}
            },
            "rules": {
                "iou": {"type": "box_iou", "coords": "grid1000", "thresholds": [0.5]},
                "ocr": {"type": "anls"},
            },
            "judges": {
                "looker": {"kind": "pointwise", "base_url": judge_server.url, "model": "scripted-vlm"},
                "blind": {"kind": "pointwise", "base_url": judge_server.url, "model": "m", "vision": False},
            },
            "pipelines": {
                "vlm_rm": {"components": {"rm": {"model": "vlm", "head": 0}}},
                "grounding": {"components": {"iou": {"rule": "iou"}}},
                "doc_qa": {"components": {"anls": {"rule": "ocr"}}},
                "vlm_judge": {"components": {"judge": {"judge": "looker"}}},
                "blind_judge": {"components": {"judge": {"judge": "blind"}}},
            },
        },
    )
    process = ServiceProcess(config, log_path=workdir / "service.log")
    try:
        yield process.wait()
    finally:
        process.stop()


def urls(service):
    return service.url, f"grpc://{service.grpc_target}"


def item(image: bytes, response="A red square.", text="Describe it. [[image_score]]", **fields):
    content = [{"type": "image_url", "image_url": {"url": data_url(image)}}, {"type": "text", "text": text}]
    return {"prompt": [{"role": "user", "content": content}], "response": response, **fields}


def test_the_same_image_scores_the_same_on_both_transports_and_is_cached_by_content(service):
    response = f"A red square. {uuid.uuid4()}"
    http_url, grpc_url = urls(service)
    with RewardClient(http_url) as http, RewardClient(grpc_url) as grpc:
        (first,) = http.score([item(RED, response)], "vlm_rm")
        (second,) = grpc.score([item(RED, response)], "vlm_rm")  # bytes on gRPC, a data URL on HTTP
        # the same bytes in another spelling: bare base64 in a Hugging Face part
        spelled = item(RED, response)
        spelled["prompt"][0]["content"][0] = {"type": "image", "image": data_url(RED).split(",", 1)[1]}
        (third,) = http.score([spelled], "vlm_rm")
    assert first.ok and first.cached == []
    assert second.cached == ["rm"] and third.cached == ["rm"]
    assert first.reward == second.reward == third.reward


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_the_image_changes_the_vlm_reward_and_the_judges_verdict(service, transport):
    with RewardClient(urls(service)[transport]) as client:
        red, dark = client.score([item(RED), item(DARK)], "vlm_rm")
        assert red.ok and dark.ok and red.reward != dark.reward
        red, dark = client.score([item(RED), item(DARK)], "vlm_judge")
        assert red.reward == 1.0 and dark.reward < 0.3
        (blind,) = client.score([item(RED)], "blind_judge")
        assert blind.status == "error" and blind.errors["judge"].type == "invalid_component_input"


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_vision_rules_read_the_response_against_the_image(service, transport):
    reference = "[40, 20, 80, 60]"  # pixels of the 200x100 image
    with RewardClient(urls(service)[transport]) as client:
        right, hack = client.score(
            [
                item(RED, "<|box_start|>(200,200),(400,600)<|box_end|>", reference=reference),
                item(RED, "[0, 0, 1000, 1000]", reference=reference),  # the whole image
            ],
            "grounding",
        )
        (ocr,) = client.score([item(RED, "lnvoice 12", reference="invoice 12")], "doc_qa")
    assert right.reward == 1.0 and hack.reward == 0.0
    assert ocr.reward == pytest.approx(0.8)  # one edit in 10 characters: 1 - 0.1 / 0.5 (anls' ramp)


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
@pytest.mark.parametrize(
    ("image", "error", "words"),
    [
        (RED[: len(RED) // 2], InvalidInput, "items[1].prompt[0].content[0]"),
        (b"<html>not an image</html>", InvalidInput, "accepted format"),
        (png_bomb(20_000, 20_000), PayloadTooLarge, "pixels"),
    ],
    ids=["truncated", "not-an-image", "bomb"],
)
def test_bad_images_are_refused_naming_the_item_and_part(service, transport, image, error, words):
    with (
        RewardClient(urls(service)[transport]) as client,
        pytest.raises(error, match=words.replace("[", r"\[")),
    ):
        client.score([item(RED), item(image)], "vlm_rm")


# ---------------------------------------------------------------- trainers, with their own calling code


def test_openrlhf_vlm_samples_are_scored_not_dropped(service):
    """OpenRLHF's query repeats each image placeholder per image token; its prompt has it once."""
    prompt = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What text is shown?<|im_end|>\n"
    query = prompt.replace("<|image_pad|>", "<|image_pad|>" * 64) + "lnvoice 12"
    llava_prompt = "USER: <image>\nWhat text is shown? ASSISTANT:"
    llava_query = llava_prompt.replace("<image>", "<image>" * 576) + " invoice 12"
    body = {"query": [query, llava_query], "prompts": [prompt, llava_prompt], "labels": ["invoice 12"] * 2}
    reply = httpx.post(f"{service.url}/get_reward?pipeline=doc_qa", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["rewards"] == pytest.approx([0.8, 1.0])  # one edit: 1 - 0.1 / 0.5


def test_slime_multimodal_samples_send_their_images(service):
    reward = make_reward(service.url, "vlm_rm")

    def sample(color):
        prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe it."}]}]
        images = {"images": [Image.new("RGB", (40, 30), color)]}
        return SimpleNamespace(prompt=prompt, response="A square.", label=None, multimodal_inputs=images)

    red, dark = asyncio.run(reward(SimpleNamespace(), [sample((255, 0, 0)), sample((30, 0, 0))]))
    assert red != dark


def test_verl_samples_with_images_in_extra_info(service):
    _, compute_score_batch, _ = make_compute_score(service.url, default_pipeline="grounding")
    extra = {"question": "Where is the cat?", "images": [{"bytes": RED}]}  # the datasets library's Image form
    scores = compute_score_batch(
        ["cats"] * 2,
        ["<|box_start|>(200,200),(400,600)<|box_end|>", "[0, 0, 1000, 1000]"],
        ["[40, 20, 80, 60]"] * 2,
        [extra, extra],
    )
    assert [s["score"] for s in scores] == [1.0, 0.0]  # grid1000 boxes need the image's size: it arrived


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_image_generation_responses_reach_the_vlm_judge_and_model(service, transport):
    def generated(image):
        return {
            "prompt": "Draw a red square. [[image_score]]",
            "response": "",
            "response_images": [data_url(image)],
        }

    with RewardClient(urls(service)[transport]) as client:
        red, dark = client.score([generated(RED), generated(DARK)], "vlm_judge")
        assert red.reward == 1.0 and dark.reward < 0.3
        red, dark = client.score([generated(RED), generated(DARK)], "vlm_rm")
        assert red.ok and dark.ok and red.reward != dark.reward
        with pytest.raises(InvalidInput, match=r"items\[0\]\.response_images\[0\]"):
            client.score([{**generated(RED), "response_images": [data_url(RED[:50])]}], "vlm_rm")
