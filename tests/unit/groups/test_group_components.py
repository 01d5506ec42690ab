"""Group components in pipelines: composition with gates, transforms and combine; typed failures."""

import asyncio
import math
import time

import pytest

from rewardgate.config.pipeline_file import parse_config
from rewardgate.errors import ConfigError
from rewardgate.groups.stats import GroupStats
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.pipeline.evaluator import EvalContext, Evaluator
from rewardgate.store.cache import InMemoryScoreCache
from rewardgate.store.fanout import Fanout
from rewardgate.store.single_flight import SingleFlight
from tests.support.algebra import build_runtime, number_rules


def run(config, responses, groups, metadata=None, incomplete=frozenset(), stats=None, pipeline="p"):
    runtime = build_runtime(config)
    items = [
        ScoringItem("q", r, None, dict(metadata[i]) if metadata else {}) for i, r in enumerate(responses)
    ]
    ctx = EvalContext(
        Fanout(InMemoryScoreCache(100, {"rule": 60}), SingleFlight(), Metrics()),
        runtime.pipelines,
        runtime.stats,
        deadline=time.monotonic() + 30,
        group_stats=stats or GroupStats(),
        incomplete_groups=incomplete,
    )
    return asyncio.run(Evaluator(ctx).evaluate(runtime.pipelines[pipeline], items, groups))


VOTE = {"group": {"method": "majority_vote", "extractor": "math"}}


def test_majority_vote_gated_by_format():
    config = {
        "rules": number_rules("fmt"),
        "pipelines": {
            "p": {
                "components": {"vote": VOTE, "fmt": {"rule": "fmt"}},
                "combine": {"weights": {"vote": 1.0, "fmt": 0.0}},
                "gates": [{"components": ["vote"], "if": "fmt >= 1", "otherwise": 0.0}],
            }
        },
    }
    responses = [r"\boxed{4}", r"\boxed{4}", r"\boxed{4}", r"\boxed{9}"]
    metadata = [{"fmt": 1}, {"fmt": 1}, {"fmt": 0}, {"fmt": 1}]
    scored_items = run(config, responses, ["g"] * 4, metadata)
    # the third sample agrees with the vote but its format is broken: its gate is closed
    assert [o.reward for o in scored_items] == [1.0, 1.0, 0.0, 0.0]
    assert [o.components["vote"] for o in scored_items] == [1.0, 1.0, 1.0, 0.0]  # the vote itself
    assert [o.gated for o in scored_items] == [[], [], ["vote"], []]


def test_two_groups_in_one_request_vote_separately_and_transforms_apply():
    config = {
        "pipelines": {
            "p": {
                "components": {
                    "vote": {**VOTE, "transform": {"type": "affine", "scale": 2, "shift": -1}},
                    "dup": {"group": {"method": "duplicates"}},
                },
                "combine": {"weights": {"vote": 1.0, "dup": 0.5}},
            }
        }
    }
    responses = [r"\boxed{1}", r"\boxed{1}", r"\boxed{2}", r"\boxed{2}", r"\boxed{2} is it", r"\boxed{3}"]
    groups = ["a", "a", "a", "b", "b", "b"]
    scored_items = run(config, responses, groups)
    # group a votes 1; group b votes 2. dup: a's first two are identical (1 of 2 others each)
    votes = [1, 1, 0, 1, 1, 0]
    dups = [-0.5, -0.5, 0.0, 0.0, 0.0, 0.0]
    for scored_item, v, d in zip(scored_items, votes, dups, strict=True):
        assert scored_item.components["dup"] == pytest.approx(d)
        assert scored_item.reward == pytest.approx((2 * v - 1) + 0.5 * d)


def test_group_mean_relative_transform_on_a_vote():
    config = {
        "pipelines": {
            "p": {"components": {"vote": {**VOTE, "transform": {"type": "par", "ref": "group_mean"}}}}
        }
    }
    scored_items = run(config, [r"\boxed{1}", r"\boxed{1}", r"\boxed{2}"], ["g"] * 3)
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert [o.reward for o in scored_items] == pytest.approx(
        [sigmoid(1 / 3), sigmoid(1 / 3), sigmoid(-2 / 3)]
    )


def test_incomplete_group_and_missing_group_are_typed_errors_never_numbers():
    config = {
        "rules": number_rules("x"),
        "pipelines": {"p": {"components": {"vote": VOTE, "x": {"rule": "x"}}}},
    }
    scored_items = run(
        config,
        [r"\boxed{1}", r"\boxed{1}", r"\boxed{1}"],
        ["late", "late", None],
        metadata=[{"x": 1}] * 3,
        incomplete=frozenset(["late"]),
    )
    assert [o.status for o in scored_items] == ["error"] * 3
    assert all(o.reward is None for o in scored_items)
    assert [o.errors["vote"].error_type for o in scored_items] == [
        "group_incomplete",
        "group_incomplete",
        "invalid_component_input",
    ]
    assert scored_items[0].errors["vote"].retryable
    assert scored_items[0].components == {"x": 1.0}  # the other components are still computed


def test_optional_group_component_makes_an_incomplete_group_partial():
    config = {
        "rules": number_rules("x"),
        "pipelines": {"p": {"components": {"vote": {**VOTE, "required": False}, "x": {"rule": "x"}}}},
    }
    (scored_item,) = run(config, [r"\boxed{1}"], ["g"], metadata=[{"x": 0.5}], incomplete=frozenset(["g"]))
    assert (scored_item.status, scored_item.reward) == ("partial", 0.5)


def test_view_agreement_reads_views_and_rejects_undeclared_ones():
    config = {
        "pipelines": {
            "p": {"components": {"co": {"group": {"method": "view_agreement", "views": ["orig", "para"]}}}}
        }
    }
    responses = [r"\boxed{1}", r"\boxed{2}", r"\boxed{1}", r"\boxed{1}"]
    views = [{"view": "orig"}, {"view": "orig"}, {"view": "para"}, {"view": "para"}]
    scored_items = run(config, responses, ["g"] * 4, views)
    # orig scored against para's vote (1), para against orig's (1 vs 2: a tie, no majority)
    assert [o.reward for o in scored_items] == [1.0, 0.0, 0.0, 0.0]
    bad = run(config, responses[:2], ["g"] * 2, [{"view": "orig"}, {"view": "evil"}])
    assert {o.errors["co"].error_type for o in bad} == {"invalid_component_input"}
    single = run(config, responses[:2], ["g"] * 2, [{"view": "orig"}, {"view": "orig"}])
    assert single[0].status == "error"


def test_votes_are_counted_for_monitoring():
    stats = GroupStats()
    config = {"pipelines": {"p": {"components": {"vote": VOTE}}}}
    run(
        config,
        [r"\boxed{1}", r"\boxed{1}", r"\boxed{2}", r"\boxed{3}", r"\boxed{4}"],
        list("aaabb"),
        stats=stats,
    )
    snapshot = stats.snapshot("p")["vote"]
    assert snapshot["groups"] == 2
    assert snapshot["no_majority_share"] == 0.5  # group b: 3 vs 4, a tie
    assert snapshot["mean_agreement"] == pytest.approx((2 / 3 + 1 / 2) / 2)


@pytest.mark.parametrize(
    "group",
    [
        {"method": "view_agreement"},  # no views
        {"method": "view_agreement", "views": ["a", "a"]},
        {"method": "majority_vote", "views": ["a", "b"]},
        {"method": "majority_vote", "extractor": "latex"},
        {"method": "vote"},
        {"method": "duplicates", "threshold": 0},
    ],
)
def test_bad_group_specs_are_config_errors(group):
    with pytest.raises(ConfigError, match="group"):
        parse_config({"pipelines": {"p": {"components": {"g": {"group": group}}}}})
