"""Text-only models refuse items with images (a running service, both transports).

A text reward model given an image item used to render the text parts and score them as if the
image did not exist. Each text model kind now answers the per-item ``invalid_component_input``
(the caller's input: item error, reward null; an optional component is left out), as a
``vision: false`` judge does; text items still score, and a text score in the cache never
answers the image item.
"""

import pytest
from rewardgate_client import RewardClient

from tests.e2e.conftest import write_config
from tests.support.images import data_url, png
from tests.support.server import ServiceProcess
from tests.support.tiny_models import build_causal_lm, build_process_reward_model, build_reward_model

pytestmark = pytest.mark.slow

RED = png(64, 48, (255, 0, 0))
STEPS = "First add two and two.\n\nThe answer is four."


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_only")
    config = {
        "models": {
            "rm": {"kind": "reward_model", "path": str(build_reward_model(root / "rm")), "max_length": 512},
            "prm": {
                "kind": "process_reward_model",
                "path": str(build_process_reward_model(root / "prm")),
                "max_length": 512,
            },
            "lm": {"kind": "likelihood", "path": str(build_causal_lm(root / "lm")), "max_length": 512},
            "minilm": {"kind": "similarity", "max_length": 128},
        },
        "rules": {"exact": {"type": "normalized_match"}},
        "pipelines": {
            "rm": {"components": {"rm": {"model": "rm", "head": 0}}},
            "prm": {
                "components": {
                    "prm": {"model": "prm", "steps": {"split": {"delimiter": "\n\n"}, "aggregate": "min"}}
                }
            },
            "lm": {"components": {"lm": {"model": "lm"}}},
            "sim": {"components": {"sim": {"model": "minilm"}}},
            "optional_rm": {
                "components": {
                    "exact": {"rule": "exact"},
                    "rm": {"model": "rm", "head": 0, "required": False},
                },
            },
        },
    }
    process = ServiceProcess(write_config(root / "pipelines.yaml", config), log_path=root / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def urls(service):
    return service.url, f"grpc://{service.grpc_target}"


def text_item(response=STEPS, **fields):
    return {"prompt": [{"role": "user", "content": "What is two plus two?"}], "response": response, **fields}


def image_item(response=STEPS, part=None, **fields):
    part = part or {"type": "image_url", "image_url": {"url": data_url(RED)}}
    content = [part, {"type": "text", "text": "What is two plus two?"}]
    return {"prompt": [{"role": "user", "content": content}], "response": response, **fields}


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
@pytest.mark.parametrize(
    ("pipeline", "component", "kind"),
    [("rm", "rm", "reward_model"), ("prm", "prm", "process_reward_model"), ("lm", "lm", "likelihood")],
)
def test_a_prompt_image_is_refused_by_text_models(service, transport, pipeline, component, kind):
    with RewardClient(urls(service)[transport]) as client:
        # The text item first: its score may be cached, and must not answer the image item.
        text, image, placeholder = client.score(
            [
                text_item(reference="4"),
                image_item(reference="4"),
                image_item(part={"type": "image"}, reference="4"),
            ],
            pipeline,
        )
    assert text.ok and text.reward is not None
    for result in (image, placeholder):
        assert result.status == "error" and result.reward is None
        error = result.errors[component]
        assert error.type == "invalid_component_input" and not error.retryable
        assert f"a {kind} model is text-only" in error.message and "1 in its prompt" in error.message


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_response_images_are_refused_by_text_models_similarity_included(service, transport):
    generated = {"response_images": [data_url(RED)]}
    with RewardClient(urls(service)[transport]) as client:
        for pipeline, component, fields in [
            ("rm", "rm", {}),
            ("sim", "sim", {"reference": "four"}),
        ]:
            text, image = client.score(
                [text_item("four", **fields), text_item("four", **fields, **generated)], pipeline
            )
            assert text.ok, pipeline
            assert image.status == "error" and image.reward is None, pipeline
            assert image.errors[component].type == "invalid_component_input"
            assert "1 in its response_images" in image.errors[component].message


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_similarity_does_not_read_the_prompt_so_a_prompt_image_is_not_its_concern(service, transport):
    with RewardClient(urls(service)[transport]) as client:
        text, image = client.score(
            [text_item("four", reference="four"), image_item("four", reference="four")], "sim"
        )
    assert text.ok and image.ok and image.reward == pytest.approx(text.reward)


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_an_optional_text_model_is_left_out_of_an_image_item(service, transport):
    with RewardClient(urls(service)[transport]) as client:
        (result,) = client.score([image_item("four", reference="four")], "optional_rm")
    assert result.status == "partial" and result.reward == 1.0  # the rule's verdict alone
    assert result.errors["rm"].type == "invalid_component_input"
