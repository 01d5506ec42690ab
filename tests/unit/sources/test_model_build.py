"""build_model_sources: model specs -> model sources keyed by SourceKey, each backend behind a
batcher sized by its spec and the settings (hand-built specs, no runtime)."""

from __future__ import annotations

import math
import time

import pytest

from rewardgate.config.settings import Settings
from rewardgate.errors import Overloaded
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.backends.triton import TritonBackend
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.build import build_model_sources
from rewardgate.sources.model.source import ModelSource
from rewardgate.sources.model.spec import ModelSpec
from tests.support.tiny_models import build_reward_model

TRITON = {"backend": "triton", "triton_url": "127.0.0.1:1", "triton_model": "rm", "path": "/nonexistent"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_reward_model(tmp_path_factory.mktemp("rm"))


async def test_a_local_model_scores_through_its_batcher(model_dir):
    metrics = Metrics()
    spec = ModelSpec(kind="reward_model", path=str(model_dir), max_length=128, dtype="float32")
    (key,) = built = build_model_sources({"rm": spec}, Settings(), metrics)
    source = built[key]
    assert key == source.key == SourceKey("model", "rm")
    assert (type(source), source.name, type(source.backend)) == (ModelSource, "model:rm", LocalBackend)
    assert not source.is_ready()  # nothing loads in build()
    await source.start()
    try:
        result = await source.compute([ScoringItem("Say hi.", "Hello!", None, {})], time.monotonic() + 60)
    finally:
        await source.close()
    ((score,),) = result.outcomes
    assert math.isfinite(score)
    # The batcher reports to the metrics under the model's name.
    assert metrics.registry.get_sample_value("rewardgate_batch_size_count", {"model": "rm"}) == 1


async def test_the_batcher_takes_the_spec_queue_bound_and_the_settings_retry_after():
    spec = ModelSpec(kind="reward_model", path="/nonexistent", batching={"max_queue_items": 2})
    (source,) = build_model_sources({"rm": spec}, Settings(overload_retry_after_s=7.5), Metrics()).values()
    with pytest.raises(Overloaded) as refused:
        source.batcher.enqueue([WorkItem(None, 1)] * 3, deadline=time.monotonic() + 10)
    assert refused.value.retry_after_s == 7.5
    await source.batcher.close()


def test_backend_triton_builds_a_triton_backend_that_connects_only_when_started():
    (source,) = build_model_sources(
        {"rm": ModelSpec(kind="reward_model", **TRITON)}, Settings(), Metrics()
    ).values()
    assert type(source.backend) is TritonBackend
    assert (source.backend.name, source.is_ready()) == ("rm", False)


def test_likelihood_models_are_refused_here():
    spec = ModelSpec(kind="likelihood", path="/nonexistent")
    with pytest.raises(ValueError, match=r"\['lm'\] are kind: likelihood"):
        build_model_sources({"lm": spec}, Settings(), Metrics())
