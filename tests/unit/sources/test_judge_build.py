"""build_judge_sources: judge specs -> judge sources keyed by SourceKey, each with its own
client reporting to the metrics, and the both-orders observer bound to the judge's name
(hand-built specs on the scripted judge server, no runtime)."""

from __future__ import annotations

import time

import pytest

from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.judge.build import build_judge_sources
from rewardgate.sources.judge.source import JudgeSource
from rewardgate.sources.judge.spec import JudgeSpec
from tests.support.openai_server import ScriptedJudgeServer


@pytest.fixture(scope="module")
def server():
    server = ScriptedJudgeServer().start()
    yield server
    server.stop()


async def test_each_judge_is_a_keyed_source_with_its_own_client(server):
    metrics, orders = Metrics(), []
    specs = {
        "helpful": JudgeSpec(kind="pointwise", base_url=server.url, model="scripted-judge"),
        "versus": JudgeSpec(kind="pairwise", base_url=server.url, model="scripted-judge"),
    }
    built = build_judge_sources(specs, metrics, on_orders=lambda *seen: orders.append(seen))
    assert list(built) == [SourceKey("judge", "helpful"), SourceKey("judge", "versus")]
    helpful, versus = built.values()
    assert [s.key for s in built.values()] == list(built)
    assert all(type(s) is JudgeSource for s in (helpful, versus))
    assert (helpful.name, helpful.client.name, versus.client.name) == ("judge:helpful", "helpful", "versus")
    assert helpful.client is not versus.client
    try:
        scored = await helpful.compute(
            [ScoringItem("q", "fine [[score=10]]", None, {})], time.monotonic() + 30
        )
        compared = await versus.compute(
            [ScoringItem("q", "mine [[best]]", "theirs", {})], time.monotonic() + 30
        )
    finally:
        for source in built.values():
            await source.close()
    assert scored.outcomes == [[1.0]] and compared.outcomes == [[1.0]]
    # The observer hears which judge answered, and the response's chance of winning in each order.
    assert orders == [("versus", 1.0, 1.0)]
    ok = {"judge": "helpful", "outcome": "ok"}
    assert metrics.registry.get_sample_value("rewardgate_judge_calls_total", ok) == 1


def test_without_an_observer_no_source_reports_orders(server):
    spec = JudgeSpec(kind="pairwise", base_url=server.url, model="scripted-judge")
    (source,) = build_judge_sources({"versus": spec}, Metrics()).values()
    assert source.on_orders is None
