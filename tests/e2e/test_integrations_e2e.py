"""Trainer adapters end to end against the running service.

The trainers themselves (TRL, verl, OpenRLHF, slime) are too heavy for CI, so
each adapter is called exactly as its framework calls it: TRL's keyword
convention with dataset columns in kwargs, verl's compute_score signatures,
OpenRLHF's reward_func(queries, prompts, labels), slime's per-sample POST
with aiohttp and raise_for_status.
"""

import math

import aiohttp
import pytest
import torch
from rewardgate_client import InvalidInput, ItemFailed
from rewardgate_client.integrations.openrlhf import make_reward_func
from rewardgate_client.integrations.trl import reward_function
from rewardgate_client.integrations.verl import make_compute_score


def trl_call(fn, prompts, completions, **columns):
    """What GRPOTrainer._calculate_rewards passes to a reward function."""
    return fn(
        prompts=prompts,
        completions=completions,
        completion_ids=[[1, 2, 3]] * len(prompts),
        trainer_state=object(),
        **columns,
    )


def test_trl_reward_function_with_dataset_columns_and_none_for_failures(service):
    fn = reward_function(service.url, "math")
    assert fn.__name__ == "rewardgate_math"
    rewards = trl_call(
        fn,
        prompts=["2+2?", "2+2?", "3+3?"],
        completions=["\\boxed{4}", "\\boxed{5}", "\\boxed{6}"],
        solution=["4", "4", "???"],
        level=["easy", "easy", "hard"],
    )
    assert rewards == [1.0, 0.0, None]  # an unusable reference is None (dropped by TRL), not 0


def test_trl_conversational_completions_and_component_selection(service):
    fn = reward_function(f"grpc://{service.grpc_target}", "rlvr", component="fmt")
    completions = [
        [{"role": "assistant", "content": "<think>hm</think><answer>\\boxed{4}</answer>"}],
        [{"role": "assistant", "content": "just \\boxed{4}"}],
    ]
    prompts = [[{"role": "user", "content": "2+2?"}]] * 2
    assert trl_call(fn, prompts, completions, solution=["4", "4"]) == [1.0, 0.0]
    assert fn.__name__ == "rewardgate_rlvr_fmt"


async def test_trl_async_reward_function(service):
    fn = reward_function(service.url, "math", asynchronous=True)
    rewards = await fn(prompts=["q"] * 2, completions=["\\boxed{1}", "\\boxed{2}"], solution=["1", "1"])
    assert rewards == [1.0, 0.0]


def test_verl_compute_score_routes_by_data_source_with_the_same_keys_for_every_sample(service):
    compute_score, compute_score_batch, _ = make_compute_score(
        service.url, routes={"openai/gsm8k": "math"}, default_pipeline="rlvr"
    )
    gsm8k = compute_score("openai/gsm8k", "\\boxed{4}", "4", {"split": "train", "index": 0})
    other = compute_score("lighteval/MATH", "<think>x</think><answer>\\boxed{4}</answer>", "4")
    # verl collects extra info per key across a batch: every sample carries every routed component.
    assert set(gsm8k) == set(other) == {"score", "correct", "fmt", "length"}
    assert gsm8k["score"] == 1.0 and gsm8k["correct"] == 1.0 and math.isnan(gsm8k["fmt"])
    assert other["score"] == pytest.approx(1.5)
    batch = compute_score_batch(
        ["openai/gsm8k", "lighteval/MATH", "openai/gsm8k"],
        ["\\boxed{1}", "\\boxed{2}", "\\boxed{3}"],
        ["1", "2", "0"],
    )
    assert [b["correct"] for b in batch] == [1.0, 1.0, 0.0] and batch[1]["fmt"] == 0.0


def test_verl_batch_of_256_numpy_values_with_mixed_routes(service):
    import numpy as np

    _, compute_score_batch, _ = make_compute_score(
        service.url, routes={"openai/gsm8k": "math"}, default_pipeline="rlvr"
    )
    sources = np.array(["openai/gsm8k", "lighteval/MATH"] * 128, dtype=object)
    solutions = np.array([f"\\boxed{{{i}}}" for i in range(256)], dtype=object)
    truths = np.array([str(i if i % 3 else i + 1) for i in range(256)], dtype=object)
    extra = np.array([{"index": np.int64(i), "split": "train"} for i in range(256)], dtype=object)
    batch = compute_score_batch(sources, solutions, truths, extra)
    assert len(batch) == 256 and len({frozenset(b) for b in batch}) == 1  # one key set: verl stacks them
    assert [b["correct"] for b in batch] == [0.0 if i % 3 == 0 else 1.0 for i in range(256)]


def test_verl_failed_sample_raises_instead_of_scoring_zero(service):
    compute_score, _, _ = make_compute_score(service.url, default_pipeline="math")
    with pytest.raises(ItemFailed, match="invalid_reference"):
        compute_score("any", "\\boxed{4}", "???")


def test_verl_batch_errors_name_the_failing_sample(service):
    _, compute_score_batch, _ = make_compute_score(service.url, {"gsm8k": "math"}, default_pipeline="math")
    with pytest.raises(ItemFailed, match=r"sample 2 of the batch \(data_source 'gsm8k'\).*invalid_reference"):
        compute_score_batch(["gsm8k"] * 3, ["\\boxed{4}"] * 3, ["4", "4", "???"])
    with pytest.raises(InvalidInput, match="sample 1 of the batch: "):
        compute_score_batch(["gsm8k"] * 2, ["\\boxed{4}"] * 2, ["4", [1, 2]])  # an ambiguous label


async def test_verl_async_compute_score(service):
    _, _, compute_score_async = make_compute_score(f"grpc://{service.grpc_target}", default_pipeline="math")
    assert (await compute_score_async("x", "\\boxed{7}", "7"))["score"] == 1.0


async def test_verl_09_reward_loop_call(service):
    """verl 0.9.1 NaiveRewardManager.run_single: keywords, its own extra_info keys, router kwargs."""
    _, _, compute_score_async = make_compute_score(service.url, default_pipeline="math")
    result = await compute_score_async(
        data_source="openai/gsm8k",
        solution_str="\\boxed{7}",
        ground_truth="7",
        extra_info={"index": 3, "num_turns": None, "rollout_reward_scores": {}},
        reward_router_address="10.0.0.1:9000",
        reward_model_tokenizer=object(),
    )
    assert result == {"score": 1.0, "correct": 1.0}


def test_openrlhf_python_file_reward_func(service):
    reward_func = make_reward_func(service.url, "math")
    prompts = ["Q: 2+2? A: ", "Q: 3+3? A: "]
    queries = [prompts[0] + "\\boxed{4}", prompts[1] + "\\boxed{7}"]
    reply = reward_func(queries, prompts, ["4", "6"])
    assert torch.equal(reply["rewards"], torch.tensor([1.0, 0.0]))
    assert torch.equal(reply["extra_logs"]["correct"], torch.tensor([1.0, 0.0]))


async def slime_remote_rm(url, sample):
    """slime.rollout.rm_hub.remote_rm's request, minus its retry loop."""
    async with aiohttp.ClientSession() as session, session.post(url, json=sample) as response:
        response.raise_for_status()
        return await response.json()


async def test_slime_remote_rm_gets_a_number(service):
    url = service.url + "/slime/reward?pipeline=math"
    sample = {"prompt": [{"role": "user", "content": "2+2?"}], "response": "\\boxed{4}", "label": "4"}
    assert await slime_remote_rm(url, sample) == 1.0
    detailed = await slime_remote_rm(url + "&components=true", sample)
    assert detailed == {"reward": 1.0, "correct": 1.0}
    with pytest.raises(aiohttp.ClientResponseError) as failed:
        await slime_remote_rm(url, {**sample, "label": "???"})
    assert failed.value.status == 422  # an error slime sees and retries, never a 0 reward


async def test_slime_dict_labels_use_their_answer_or_fail_visibly(service):
    url = service.url + "/slime/reward?pipeline=math"
    sample = {"prompt": "2+2?", "response": "\\boxed{4}"}
    assert await slime_remote_rm(url, {**sample, "label": {"ground_truth": "4", "source": "gsm8k"}}) == 1.0
    assert await slime_remote_rm(url, {**sample, "label": {"answer": 4}}) == 1.0
    with pytest.raises(aiohttp.ClientResponseError) as failed:  # no answer in it: not a silent 0
        await slime_remote_rm(url, {**sample, "label": {"source": "gsm8k", "difficulty": 3}})
    assert failed.value.status == 422


ADAPTER_PROCESS = """
import asyncio, sys, threading
from rewardgate_client.integrations.trl import reward_function
url = sys.argv[1]
assert reward_function(url, "math")(prompts=["q"], completions=["\\\\boxed{1}"], solution=["1"]) == [1.0]
loop = asyncio.new_event_loop()  # TRL awaits async reward functions on a loop in its own thread
threading.Thread(target=loop.run_forever, daemon=True).start()
score = reward_function(url, "math", asynchronous=True)
reward = score(prompts=["q"], completions=["\\\\boxed{1}"], solution=["1"])
assert asyncio.run_coroutine_threadsafe(reward, loop).result() == [1.0]
print("scored")
"""


def test_a_trainer_process_using_the_adapters_exits_cleanly(service):
    """The adapters' long-lived clients are closed at exit, not reported as leaked connections."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", ADAPTER_PROCESS, service.url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "scored", done.stderr
    assert "Unclosed" not in done.stderr, done.stderr
