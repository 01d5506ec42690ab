"""Group tournaments: a pairwise judge (scripted server speaking the OpenAI protocol on a real
socket) asked on every pair of a group in both orders, aggregated with Bradley-Terry."""

import asyncio
import math
import time

import pytest

from rewardgate.config.pipeline_file import parse_config
from rewardgate.config.settings import Settings
from rewardgate.core.runtime import ScoringRuntime
from rewardgate.errors import ConfigError
from rewardgate.groups.stats import GroupStats
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.pipeline.evaluator import EvalContext, Evaluator
from rewardgate.store.cache import InMemoryScoreCache
from rewardgate.store.fanout import Fanout
from rewardgate.store.single_flight import SingleFlight
from tests.support.openai_server import ScriptedJudgeServer

HALF_LOG_11 = 0.5 * math.log(11)  # smoothing 0.1: a clean win counts 1.1 / 1.2 = 11/12


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedJudgeServer().start()
    yield scripted
    scripted.stop()


def config(server, **group) -> dict:
    return {
        "judges": {"pair": {"kind": "pairwise", "base_url": server.url, "model": "scripted"}},
        "pipelines": {
            "t": {"components": {"bt": {"group": {"method": "tournament", "judge": "pair", **group}}}}
        },
    }


def evaluate(cfg, responses, groups, incomplete=frozenset()):
    runtime = ScoringRuntime(parse_config(cfg), Settings(), Metrics())
    items = [ScoringItem("Write a haiku.", r) for r in responses]

    async def run():
        ctx = EvalContext(
            Fanout(InMemoryScoreCache(1000, {"judge": 60}), SingleFlight(), Metrics()),
            runtime.pipelines,
            runtime.stats,
            deadline=time.monotonic() + 30,
            group_stats=GroupStats(),
            incomplete_groups=incomplete,
        )
        try:
            return await Evaluator(ctx).evaluate(runtime.pipelines["t"], items, groups)
        finally:
            await runtime.close()

    return asyncio.run(run())


def test_two_winners_and_two_losers_by_hand(server):
    server.reset()
    responses = ["good one [[best]]", "plain", "good two [[best]]", "also plain"]
    scored_items = evaluate(config(server), responses, ["g"] * 4)
    # best vs plain: 1 in both orders; same class: the orders disagree, a 0.5 tie. Bradley-Terry's
    # condition W_i = sum_j p_i / (p_i + p_j) gives p_best / p_plain = 11: r = +-log(11) / 2.
    assert [o.reward for o in scored_items] == pytest.approx(
        [HALF_LOG_11, -HALF_LOG_11, HALF_LOG_11, -HALF_LOG_11]
    )
    assert len(server.calls) == 2 * 6  # every pair of the group, in both orders


def test_each_group_has_its_own_tournament_and_a_group_of_one_scores_zero(server):
    server.reset()
    scored_items = evaluate(config(server), ["x [[best]]", "y", "alone"], ["a", "a", "b"])
    assert [o.reward for o in scored_items] == pytest.approx([HALF_LOG_11, -HALF_LOG_11, 0.0])
    assert len(server.calls) == 2  # only a's one pair


def test_a_position_biased_judge_ranks_nobody(server):
    server.reset()
    scored_items = evaluate(config(server), ["a [[always=A]]", "b [[always=A]]", "c [[always=A]]"], ["g"] * 3)
    assert [o.reward for o in scored_items] == pytest.approx([0.0, 0.0, 0.0])


def test_a_sample_hijacking_the_judges_position_gains_nothing(server):
    server.reset()
    # The hijacker makes every verdict it is part of say "A" whatever the order: a tie, never a win.
    scored_items = evaluate(config(server), ["honest [[best]]", "hijack [[always=A]]", "plain"], ["g"] * 3)
    rewards = [o.reward for o in scored_items]
    assert rewards[0] == max(rewards)
    assert rewards[1] < rewards[0]


def test_a_failed_verdict_fails_the_group_with_its_error_and_incomplete_groups_ask_nothing(server):
    server.reset()
    scored_items = evaluate(config(server), ["a [[refuse]]", "b", "c"], ["g"] * 3)
    assert {o.status for o in scored_items} == {"error"}
    assert scored_items[1].errors["bt"].error_type == "judge_refusal"
    server.reset()
    scored_items = evaluate(config(server), ["a", "b"], ["late", "late"], incomplete=frozenset(["late"]))
    assert scored_items[0].errors["bt"].error_type == "group_incomplete"
    assert server.calls == []


def test_tournament_needs_a_pairwise_judge(server):
    cfg = config(server)
    cfg["judges"]["pair"]["kind"] = "pointwise"
    with pytest.raises(ConfigError, match="pairwise"):
        parse_config(cfg)
    with pytest.raises(ConfigError, match="unknown judge"):
        parse_config(config(server) | {"judges": {}})
