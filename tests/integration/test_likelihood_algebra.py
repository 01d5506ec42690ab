"""Likelihood components in the reward algebra, evaluated in-process through the real runtime,
fan-out and evaluator: both heads of a pair read from one computation, transforms, a gate, a
group-relative transform and the combination, checked by hand against the runner's numbers."""

import asyncio
import math
import time

import pytest

from rewardgate.algebra.explain import tracer_for
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.pipeline.evaluator import EvalContext, Evaluator
from rewardgate.sources.likelihood.runner import LikelihoodRunner
from rewardgate.sources.likelihood.spec import LikelihoodSpec
from rewardgate.store.cache import InMemoryScoreCache
from rewardgate.store.fanout import Fanout
from rewardgate.store.single_flight import SingleFlight
from tests.support.algebra import build_runtime, number_rules
from tests.support.tiny_models import build_causal_lm

pytestmark = pytest.mark.slow

RESPONSES = ["Two plus two is four.", "It is five.", "The sum of two and two equals four, clearly."]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("pair")
    return build_causal_lm(root / "policy", seed=3), build_causal_lm(root / "reference", seed=4)


def config(policy, reference) -> dict:
    likelihood = {"span": "response", "reduce": "sum", "reference_model": str(reference), "beta": 0.5}
    return {
        "models": {
            "lm": {"kind": "likelihood", "path": str(policy), "dtype": "float32", "likelihood": likelihood}
        },
        "rules": number_rules("fmt"),
        "pipelines": {
            "p": {
                "components": {
                    "dpo": {
                        "model": "lm",
                        "head": "log_ratio",
                        "transform": [
                            {"type": "affine", "scale": 2.0},
                            {"type": "clip", "min": -1, "max": 1},
                        ],
                    },
                    "logp": {
                        "model": "lm",
                        "head": "logp",
                        "transform": {"type": "log_sigmoid", "ref": "group_mean"},
                    },
                    "fmt": {"rule": "fmt"},
                },
                "gates": [{"components": ["dpo"], "if": "fmt >= 1", "otherwise": -1.0}],
                "combine": {"weights": {"dpo": 1.0, "logp": 0.5}},
            }
        },
    }


async def run_pipeline(runtime, items, groups):
    runtime.start()
    await runtime.wait_loaded()
    try:
        metrics = Metrics()
        ctx = EvalContext(
            Fanout(InMemoryScoreCache(1000, {"model": 60, "rule": 60}), SingleFlight(), metrics),
            runtime.pipelines,
            runtime.stats,
            deadline=time.monotonic() + 60,
            tracer=tracer_for(False),
        )
        return await Evaluator(ctx).evaluate(runtime.pipelines["p"], items, groups, None), metrics
    finally:
        await runtime.close()


def test_likelihood_heads_compose_with_transforms_gates_groups_and_combine(pair):
    policy, reference = pair
    runtime = build_runtime(config(policy, reference))
    formats = [1.0, 0.0, 1.0]
    items = [
        ScoringItem("What is 2+2?", response, metadata={"fmt": fmt})
        for response, fmt in zip(RESPONSES, formats, strict=True)
    ]
    scored_items, _ = asyncio.run(run_pipeline(runtime, items, ["g"] * 3))

    direct = LikelihoodRunner(
        policy,
        LikelihoodSpec(span="response", reduce="sum", reference_model=str(reference), beta=0.5),
        dtype="float32",
    )
    heads = direct.forward([direct.encoder.row(item) for item in items])
    mean_logp = sum(logp for _, logp, _ in heads) / 3
    for scored_item, (ratio, logp, _), fmt in zip(scored_items, heads, formats, strict=True):
        dpo = min(max(2.0 * ratio, -1.0), 1.0) if fmt >= 1 else -1.0
        relative = -math.log1p(math.exp(-(logp - mean_logp)))  # log sigmoid(logp - group mean)
        assert scored_item.status == "ok"
        assert scored_item.components["logp"] == pytest.approx(relative, abs=1e-5)
        assert scored_item.reward == pytest.approx(dpo + 0.5 * relative, abs=1e-5)
    assert scored_items[1].gated == ["dpo"]
