"""slime's custom reward path, and permanent errors that trainers would retry blind.

slime's ``async_rm`` awaits ``rm_function(args, sample)`` and
``batched_async_rm`` awaits ``rm_function(args, samples)`` (slime 2026-08,
slime/rollout/rm_hub/__init__.py); samples are reproduced with the fields
slime's ``Sample`` gives a reward function. Its ``remote_rm`` and OpenRLHF's
HTTP mode retry any non-2xx reply and drop the body: the service logs such a
permanent error once, and the adapters raise it on the first attempt.
"""

import logging
import uuid
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from rewardgate_client import InvalidInput, ItemFailed, PipelineNotFound
from rewardgate_client.integrations.openrlhf import make_reward_func
from rewardgate_client.integrations.slime import make_reward, target_of


@dataclass
class SlimeSample:
    """The fields of slime.utils.types.Sample a reward function reads."""

    prompt: str | list[dict[str, Any]] = ""
    response: str = ""
    label: Any = None
    metadata: dict = field(default_factory=dict)
    group_index: int | None = None
    index: int | None = None


def requests_seen(service, status: str) -> float:
    return sum(
        service.metric("rewardgate_requests_total", route="/v1/score", pipeline=pipeline, status=status)
        for pipeline in ("math", "unknown")
    )


def test_the_service_and_pipeline_come_from_slimes_rm_url():
    args = Namespace(rm_url="http://rg.example:8000/slime/reward?pipeline=reasoning")
    assert target_of(args, None, None) == ("http://rg.example:8000", "reasoning")
    assert target_of(Namespace(rm_url=None), None, None) == ("http://127.0.0.1:8000", "math")
    assert target_of(args, "grpc://rg:50051", "code") == ("grpc://rg:50051", "code")


async def test_slime_custom_reward_scores_one_sample_or_a_group(service):
    reward = make_reward()
    args = Namespace(rm_url=f"{service.url}/slime/reward?pipeline=math")
    chat = [{"role": "user", "content": [{"type": "text", "text": "2+2?"}]}]
    assert await reward(args, SlimeSample(prompt=chat, response="\\boxed{4}", label="4")) == 1.0
    group = [
        SlimeSample(prompt="2+2?", response="\\boxed{4}", label={"ground_truth": "4"}, group_index=7),
        SlimeSample(prompt="2+2?", response="\\boxed{5}", label=4, group_index=7),
    ]
    assert await reward(args, group) == [1.0, 0.0]


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_slime_custom_reward_refuses_a_group_relative_pipeline_without_the_whole_group(
    service, transport
):
    """Without --group-rm every sample would be its own group's mean: 0.5 for all, silently."""
    url = service.url if transport == "http" else f"grpc://{service.grpc_target}"
    reward = make_reward(url, "grouped")
    args = Namespace(rm_url=None)
    one = SlimeSample(prompt="2+2?", response="\\boxed{4}", label="4", group_index=3)
    with pytest.raises(InvalidInput, match="--group-rm"):
        await reward(args, one)
    wrong = SlimeSample(prompt="2+2?", response="\\boxed{5}", label="4", group_index=3)
    rewards = await reward(args, [one, wrong])  # the whole group (--group-rm) is scored
    assert rewards[0] > 0.5 > rewards[1]
    assert await make_reward(url, "math")(args, one) == 1.0  # other pipelines take one sample


async def test_slime_custom_reward_fails_at_once_with_the_service_message(service):
    reward = make_reward(service.url, "math")
    args = Namespace(rm_url=None)
    before = requests_seen(service, "200")
    with pytest.raises(ItemFailed, match="invalid_reference"):
        await reward(args, SlimeSample(prompt="2+2?", response="\\boxed{4}", label={"source": "gsm8k"}))
    assert requests_seen(service, "200") == before + 1  # answered once, not retried
    missing = f"no-such-pipeline-{uuid.uuid4().hex[:8]}"
    before = requests_seen(service, "404")
    with pytest.raises(PipelineNotFound, match=missing):
        await make_reward(service.url, missing)(args, SlimeSample(response="x"))
    assert requests_seen(service, "404") == before + 1


def test_openrlhf_python_file_mode_logs_a_failure_where_it_shows(service, caplog):
    reward_func = make_reward_func(service.url, "math")
    with caplog.at_level(logging.ERROR, logger="rewardgate_client"), pytest.raises(ItemFailed):
        reward_func(["Q: 1+1? A: 2"], ["Q: 1+1?"], [{"source": "gsm8k"}])  # a label no rule can use
    (record,) = [r for r in caplog.records if r.name == "rewardgate_client"]
    assert "sample 0, correct: the reference is not a math answer" in record.getMessage()


def test_openrlhf_python_file_mode_reads_structured_labels(service):
    reward_func = make_reward_func(service.url, "math")
    reply = reward_func(["Q: 2+2? \\boxed{4}"] * 2, ["Q: 2+2?"] * 2, [{"answer": 4}, 4])
    assert reply["rewards"].tolist() == [1.0, 1.0]


async def test_a_permanent_error_on_a_compat_route_is_logged_once_despite_the_trainers_retries(service):
    missing = f"no-such-pipeline-{uuid.uuid4().hex[:8]}"
    url = f"{service.url}/slime/reward?pipeline={missing}"
    async with aiohttp.ClientSession() as session:
        for _ in range(3):  # what slime's remote_rm does: post, raise_for_status, retry
            async with session.post(url, json={"prompt": "p", "response": "r", "label": "4"}) as response:
                assert response.status == 404
        async with session.post(
            f"{service.url}/get_reward?pipeline={missing}", json={"query": ["r"]}
        ) as response:
            assert response.status == 404
    log = service.log_path.read_text().splitlines()
    lines = [line for line in log if missing in line and "rewardgate.compat" in line]
    assert len(lines) == 2, lines  # once per route, not once per retry
    assert all("WARNING" in line and "permanent pipeline_not_found error" in line for line in lines)
