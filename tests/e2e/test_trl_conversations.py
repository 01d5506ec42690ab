"""TRL conversations that are not plain text: vision-language content parts and tool use.

Prompts and completions are shaped as TRL 1.16's GRPOTrainer hands them to a
reward function (``prepare_multimodal_messages`` content blocks holding an
in-memory image, ``parse_response`` tool calls with dict arguments, tool turns
with ``name``), plus the OpenAI form (JSON-text arguments, ids, ``image_url``).
Both transports must accept them and give the same rewards and cache keys. Image
conversations are scored by a VLM reward model (the tiny random LLaVA); the text reward
model refuses them rather than score their text without the pixels.
"""

import logging
import uuid

import pytest
from rewardgate_client import InvalidInput, RetryPolicy, RewardClient
from rewardgate_client.integrations.trl import reward_function

from rewardgate.sources.model.random_vision import build_vision_reward_model
from tests.e2e.conftest import write_config
from tests.support.conversations import TRL_TOOL_PROMPT
from tests.support.images import data_url, png
from tests.support.server import ServiceProcess

#: An image as TRL holds it in a prompt (a PIL object there; here raw PNG bytes): not JSON.
IMAGE = png(16, 16)

VISION_PROMPT = [
    {"role": "system", "content": [{"type": "text", "text": "You answer questions about pictures."}]},
    {
        "role": "user",
        "content": [
            {"type": "image", "image": IMAGE},
            {"type": "text", "text": "How many legs has the cat?"},
        ],
    },
]
OPENAI_TOOL_PROMPT = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture, times two?"},
            {"type": "image_url", "image_url": {"url": data_url(png(8, 8)), "detail": "low"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "I should count first.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "count", "arguments": '{"object": "cat", "scale": 2}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "2"},
]
PROMPTS = [VISION_PROMPT, TRL_TOOL_PROMPT, OPENAI_TOOL_PROMPT]


@pytest.fixture(scope="module")
def vlm_service(tmp_path_factory):
    """A service whose ``vlm_rm`` pipeline scores with a VLM reward model (component ``helpful``)."""
    workdir = tmp_path_factory.mktemp("trl_vlm")
    config = {
        "models": {
            "vlm": {"kind": "vision_reward_model", "path": str(build_vision_reward_model(workdir / "vlm"))}
        },
        "pipelines": {"vlm_rm": {"components": {"helpful": {"model": "vlm", "head": 0}}}},
    }
    process = ServiceProcess(write_config(workdir / "pipelines.yaml", config), log_path=workdir / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def urls(service):
    return service.url, f"grpc://{service.grpc_target}"


def trl_call(fn, prompts, completions, **columns):
    """What GRPOTrainer._calculate_rewards passes to a reward function."""
    return fn(prompts=prompts, completions=completions, completion_ids=[[1]] * len(prompts), **columns)


def test_vision_and_tool_conversations_score_the_same_over_http_and_grpc(service, vlm_service):
    completions = [[{"role": "assistant", "content": [{"type": "text", "text": "Four."}]}]] * len(PROMPTS)
    http, grpc = (trl_call(reward_function(url, "vlm_rm"), PROMPTS, completions) for url in urls(vlm_service))
    assert None not in http and http == grpc
    # The conversation is what the model scores: the tool turns change the reward.
    (first_turn_only,) = trl_call(
        reward_function(vlm_service.url, "vlm_rm"), [TRL_TOOL_PROMPT[:1]], completions[:1]
    )
    assert first_turn_only != http[1]
    # A text reward model scores the text-only conversation and refuses the two with images.
    text_http, text_grpc = (
        trl_call(reward_function(url, "rm"), PROMPTS, completions) for url in urls(service)
    )
    assert text_http[0] is None and text_http[2] is None and text_http[1] is not None
    assert text_http == text_grpc


@pytest.mark.parametrize("prompt", PROMPTS, ids=["vision", "trl-tools", "openai-tools"])
def test_a_conversation_has_one_cache_key_whichever_transport_carried_it(vlm_service, prompt):
    response = f"Four. {uuid.uuid4()}"  # never scored before
    item = {"prompt": prompt, "response": response}
    http_url, grpc_url = urls(vlm_service)
    if prompt is VISION_PROMPT:  # as the TRL adapter sends it: the in-memory image as a data URL
        item["prompt"] = [
            VISION_PROMPT[0],
            {**VISION_PROMPT[1], "content": [{"type": "image", "image": data_url(IMAGE)}]},
        ]
    with RewardClient(http_url) as http, RewardClient(grpc_url) as grpc:
        (first,) = http.score([item], "vlm_rm")
        (second,) = grpc.score([item], "vlm_rm")
    assert first.ok and first.cached == [] and second.cached == ["helpful"]
    assert second.reward == first.reward


def test_tool_results_in_a_completion_do_not_earn_the_reward(service):
    fn = reward_function(service.url, "math")
    call = {"type": "function", "function": {"name": "solve", "arguments": {"q": "2+2"}}}
    completions = [
        [
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "name": "solve", "content": "\\boxed{4}"},
            {"role": "assistant", "content": "I could not tell."},
        ],
        [
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "name": "solve", "content": "4"},
            {"role": "assistant", "content": "So it is \\boxed{4}."},
        ],
    ]
    assert trl_call(fn, [TRL_TOOL_PROMPT[:1]] * 2, completions, solution=["4", "4"]) == [0.0, 1.0]


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_parsed_tool_calls_reach_the_tool_call_rule(service, transport):
    fn = reward_function(urls(service)[transport], "tool_use", reference_column="calls")
    expected = '[{"name": "multiply", "arguments": {"a": 6, "b": 7}}]'

    def completion(arguments):
        call = {"type": "function", "function": {"name": "multiply", "arguments": arguments}}
        return [{"role": "assistant", "content": None, "tool_calls": [call]}]

    rewards = trl_call(
        fn,
        [TRL_TOOL_PROMPT[:1]] * 3,
        [completion({"a": 6, "b": 7}), completion('{"a": 6, "b": 7}'), completion({"a": 6, "b": 8})],
        calls=[expected] * 3,
    )
    assert rewards[0] == rewards[1] == pytest.approx(1.0) and rewards[2] < 1.0


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": 5},
        {"role": "user", "content": "hi", "mood": "happy"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function"}]},
        {"role": "user", "content": [{"text": "a part without a type"}]},
        {"role": "user", "content": [{"type": "image", "image": IMAGE}]},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.org/c.png"}}]},
        {"role": "user", "content": [{"type": "image", "image": data_url(IMAGE[:40])}]},
        {"role": "user", "content": [{"type": "image", "image": data_url(IMAGE, "image/jpeg")}]},
    ],
    ids=[
        "content-number", "unknown-field", "call-without-function", "part-without-type", "not-json",
        "url-not-allowed", "truncated-image", "wrong-mime",
    ],
)  # fmt: skip
def test_a_malformed_message_is_invalid_input_on_both_transports(service, message):
    for url in urls(service):
        with RewardClient(url) as client, pytest.raises(InvalidInput):
            client.score([{"prompt": [message], "response": "x"}], "rm")


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_client_options_such_as_a_retry_policy_configure_the_adapter(service, asynchronous):
    fn = reward_function(
        service.url, "math", asynchronous=asynchronous, retry=RetryPolicy(attempts=3), max_concurrency=2
    )
    rewards = fn(prompts=["2+2?"], completions=["\\boxed{4}"], solution=["4"])
    assert (await rewards if asynchronous else rewards) == [1.0]


def test_each_reward_function_logs_its_own_failed_share(service):
    """TRL averages what is logged under one name: a shared name would blur a failing
    function (here, one reading a column that does not exist) with a healthy one."""
    metrics: dict[str, list[float]] = {}

    def log_metric(name, value):
        metrics.setdefault(name, []).append(value)

    healthy = reward_function(service.url, "math")
    broken = reward_function(service.url, "rlvr", component="correct", reference_column="missing")
    for fn in (healthy, broken):
        trl_call(
            fn, ["2+2?", "3+3?"], ["\\boxed{4}", "\\boxed{6}"], solution=["4", "6"], log_metric=log_metric
        )
    assert metrics == {
        "rewardgate/failed/rewardgate_math": [0.0],
        "rewardgate/failed/rewardgate_rlvr_correct": [1.0],
    }


def test_a_missing_reference_column_is_explained_not_just_none(service, caplog):
    fn = reward_function(service.url, "math")  # reads the reference from "solution"
    metrics: dict[str, float] = {}
    with caplog.at_level(logging.WARNING, logger="rewardgate_client"):
        rewards = trl_call(
            fn,
            ["2+2?", "3+3?"],
            ["\\boxed{4}", "\\boxed{6}"],
            answer=["4", "6"],
            log_metric=metrics.__setitem__,
        )
    assert rewards == [None, None]
    assert metrics == {"rewardgate/failed/rewardgate_math": 1.0}
    (record,) = [r for r in caplog.records if r.name == "rewardgate_client"]
    message = record.getMessage()
    assert "2 of 2 samples got no reward" in message and "invalid_reference" in message
    assert "no 'solution' column" in message and "'answer'" in message and "reference_column=" in message


@pytest.mark.parametrize("transport", [0, 1], ids=["http", "grpc"])
def test_an_images_column_fills_the_placeholders_and_keys_the_cache_by_content(vlm_service, transport):
    """TRL keeps a vision dataset's images in an ``images`` column next to placeholders."""
    fn = reward_function(urls(vlm_service)[transport], "vlm_rm", reference_column=None)
    question = f"What colour? {uuid.uuid4()}"
    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    completions = [[{"role": "assistant", "content": "Red."}]]
    red, blue = png(8, 8, (255, 0, 0)), png(8, 8, (0, 0, 255))
    first = trl_call(fn, [prompt], completions, images=[[red]])
    with RewardClient(urls(vlm_service)[transport]) as client:
        item = {
            "prompt": [
                {
                    "role": "user",
                    "content": [{"type": "image", "image": data_url(red)}, prompt[0]["content"][1]],
                }
            ],
            "response": "Red.",
        }
        (again,) = client.score([item], "vlm_rm")
        blue_item = {
            **item,
            "prompt": [
                {
                    "role": "user",
                    "content": [{"type": "image", "image": data_url(blue)}, prompt[0]["content"][1]],
                }
            ],
        }
        (other,) = client.score([blue_item], "vlm_rm")
    assert first[0] is not None
    assert again.cached == ["helpful"]  # the adapter sent the column's image: same content, same key
    assert other.cached == [] and other.reward != again.reward  # other pixels: another key, another reward
