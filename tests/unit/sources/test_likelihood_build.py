"""build_likelihood_sources: kind: likelihood specs -> likelihood sources keyed as models,
on the model kind's batcher (hand-built specs, no runtime)."""

from __future__ import annotations

import math
import time

import pytest

from rewardgate.config.settings import Settings
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.likelihood.build import build_likelihood_sources
from rewardgate.sources.likelihood.source import LikelihoodSource
from rewardgate.sources.likelihood.triton_backend import LikelihoodTritonBackend
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.spec import ModelSpec
from tests.support.tiny_models import build_causal_lm


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    return build_causal_lm(tmp_path_factory.mktemp("lm"))


async def test_a_local_likelihood_model_scores_and_records_once_connected(lm_dir):
    metrics = Metrics()
    spec = ModelSpec(
        kind="likelihood", path=str(lm_dir), max_length=128, dtype="float32", use_chat_template=False
    )
    built = build_likelihood_sources({"lm": spec}, Settings(), metrics)
    source = built[SourceKey("model", "lm")]
    assert source.key == SourceKey("model", "lm")
    assert (type(source), source.name, type(source.backend)) == (LikelihoodSource, "model:lm", LocalBackend)
    assert source.recorder is None  # the reward monitor's holder connects it
    recorded: list[tuple[list[float], list[int]]] = []
    source.recorder = lambda values, lengths: recorded.append((values, lengths))
    await source.start()
    try:
        item = ScoringItem("What is 2+2?", "Two plus two makes", "four", {})
        result = await source.compute([item], time.monotonic() + 60)
    finally:
        await source.close()
    ((value, *_),) = result.outcomes
    assert math.isfinite(value) and value < 0  # a mean log-probability
    assert recorded == [([value], [len(item.response)])]
    assert metrics.registry.get_sample_value("rewardgate_batch_size_count", {"model": "lm"}) == 1


def test_backend_triton_builds_the_span_backend():
    spec = ModelSpec(
        kind="likelihood", path="/nonexistent", backend="triton", triton_url="127.0.0.1:1", triton_model="lm"
    )
    (source,) = build_likelihood_sources({"lm": spec}, Settings(), Metrics()).values()
    assert type(source.backend) is LikelihoodTritonBackend
    assert not source.is_ready()


def test_other_model_kinds_are_refused_here():
    with pytest.raises(ValueError, match=r"\['rm'\] are not kind: likelihood"):
        build_likelihood_sources({"rm": ModelSpec(kind="reward_model", path="/x")}, Settings(), Metrics())
