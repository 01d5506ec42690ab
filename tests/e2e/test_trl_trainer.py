"""A real TRL 1.16 ``GRPOTrainer`` step whose rewards come from rewardgate.

The policy is a tiny random Llama built locally; one optimisation step
generates completions, calls the reward functions exactly as TRL does
(``_calculate_rewards``), and logs the rewards. A reward of None would show
as NaN in TRL's logs, so a finite logged mean means every sample was scored.
"""

import math
import threading
import time

import pytest
from rewardgate_client.integrations.trl import reward_function

from rewardgate.config.settings import default_pipeline_file
from tests.support.conversations import TRL_TOOL_PROMPT
from tests.support.server import ServiceProcess
from tests.support.tiny_models import build_causal_lm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return build_causal_lm(tmp_path_factory.mktemp("policy"))


def grpo_step(policy, tmp_path, reward_funcs, prompts, **columns):
    """One GRPOTrainer optimisation step over every prompt (two generations each); its logged metrics."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=2 * len(prompts),
        num_generations=2,
        max_completion_length=8,
        max_steps=1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(policy),
        processing_class=AutoTokenizer.from_pretrained(policy),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=Dataset.from_dict({"prompt": prompts, **columns}),
    )
    trainer.train()
    return trainer.state.log_history[0]


def test_a_grpo_step_is_rewarded_by_rewardgate_over_both_transports(service, policy, tmp_path):
    def scored():
        return sum(
            service.metric("rewardgate_items_scored_total", pipeline=p, status="ok") for p in ("rm", "math")
        )

    scored_before = scored()
    by_model = reward_function(service.url, "rm")  # the tiny reward model reads the whole conversation
    by_rule = reward_function(f"grpc://{service.grpc_target}", "math", asynchronous=True)
    logs = grpo_step(
        policy,
        tmp_path,
        [by_model, by_rule],
        prompts=[TRL_TOOL_PROMPT, [{"role": "user", "content": "What is two plus two?"}]],
        solution=["42", "4"],
    )
    model_mean = logs["rewards/rewardgate_rm/mean"]
    assert math.isfinite(model_mean) and model_mean != 0.0  # real model scores, none missing
    assert logs["rewards/rewardgate_math/mean"] == 0.0  # random text is not the answer (and not None)
    assert scored() >= scored_before + 8  # 4 completions, each scored by both functions


def test_a_restart_in_the_middle_of_a_reward_step_costs_latency_not_the_run(policy, tmp_path):
    first = ServiceProcess(default_pipeline_file()).wait()
    replacement: list[ServiceProcess] = []
    restarter = threading.Thread(
        target=lambda: (
            time.sleep(3),  # refused connections meanwhile
            replacement.append(
                ServiceProcess(default_pipeline_file(), port=first.port, grpc_port=first.grpc_port)
            ),
        )
    )
    exact = reward_function(first.url, "exact", reference_column="answer")
    waits: list[float] = []

    def restarting_reward(prompts, completions, **kwargs):
        first.stop()  # the service goes away as TRL asks for rewards
        restarter.start()
        started = time.monotonic()
        rewards = exact(prompts, completions, **kwargs)
        waits.append(time.monotonic() - started)
        return rewards

    restarting_reward.__name__ = "rewardgate_exact"
    try:
        logs = grpo_step(
            policy,
            tmp_path,
            [restarting_reward],
            prompts=["Say yes.", "Say no."],
            answer=["yes", "no"],
        )
    finally:
        if restarter.is_alive():
            restarter.join()
        first.stop()
        for process in replacement:
            process.stop()
    assert logs["rewards/rewardgate_exact/mean"] == 0.0  # scored (random text), not NaN
    assert waits and waits[0] >= 3  # the call waited for the replacement rather than failing
