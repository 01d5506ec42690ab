"""RewardMonitor: windows, groups, drift references, bounds, and its Prometheus export."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import ScoredItem
from rewardgate.reward_monitor.exporter import MonitorCollector
from rewardgate.reward_monitor.monitor import RewardMonitor
from tests.support.algebra import build_runtime, number_rules
from tests.support.images import data_url, png

CONFIG = {
    "rules": number_rules("a", "b"),
    "pipelines": {
        "p": {
            "components": {
                "a": {"rule": "a"},
                "b": {"rule": "b"},
                "both": {"ensemble": {"members": ["a", "b"], "aggregate": "mean"}},
            },
            "combine": {"type": "weighted_sum", "weights": {"both": 1.0}},
        }
    },
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pipeline():
    return build_runtime(CONFIG).pipelines["p"]


def scored_item(reward, a=None, b=None, status="ok") -> ScoredItem:
    components = {name: value for name, value in (("a", a), ("b", b)) if value is not None}
    if a is not None and b is not None:
        components["both"] = (a + b) / 2
    return ScoredItem(status=status, reward=reward, components=components)


def feed(monitor, pipeline, rewards, *, lengths=None, groups=None, prompts=None, statuses=None):
    n = len(rewards)
    items = [
        ScoringItem(prompts[i] if prompts else f"prompt {i}", "x" * (lengths[i] if lengths else 10))
        for i in range(n)
    ]
    scored_items = [
        scored_item(r, r, r, statuses[i] if statuses else "ok")
        if r is not None
        else scored_item(None, status="error")
        for i, r in enumerate(rewards)
    ]
    monitor.observe(pipeline, items, scored_items, groups or [None] * n)


def test_the_window_is_the_last_items_and_the_reference_the_ones_before(pipeline):
    monitor = RewardMonitor(window_items=100, window_s=600, min_items=10, clock=Clock())
    feed(monitor, pipeline, [5.0] * 100)  # leaves the deque once 200 newer items arrive
    feed(monitor, pipeline, [0.0] * 100)
    feed(monitor, pipeline, [1.0] * 100)
    stats = monitor.snapshot().pipelines["p"]
    assert stats.items == 100
    assert stats.reward.summary.mean == 1.0 and stats.reward.reference.mean == 0.0
    assert stats.reward.drift_ks == 1.0 and stats.reward.drift_psi > 5
    assert stats.components["a"].summary.mean == 1.0
    assert stats.reference == "previous_window"


def test_old_items_leave_the_window_by_age(pipeline):
    clock = Clock()
    monitor = RewardMonitor(window_items=100, window_s=60, min_items=10, clock=clock)
    feed(monitor, pipeline, [1.0] * 50)
    clock.now += 61
    feed(monitor, pipeline, [0.0] * 20)
    stats = monitor.snapshot().pipelines["p"]
    assert stats.items == 20 and stats.reward.reference.count == 50
    clock.now += 200
    stats = monitor.snapshot().pipelines["p"]
    assert stats.items == 0 and stats.reward.summary is None and stats.reward.reference is None


def test_statistics_below_min_items_are_absent_not_zero(pipeline):
    monitor = RewardMonitor(window_items=100, window_s=600, min_items=30, clock=Clock())
    feed(monitor, pipeline, [1.0, 0.0] * 10)
    stats = monitor.snapshot().pipelines["p"]
    assert stats.items == 20
    assert stats.reward.summary is None and stats.reward.length_correlation is None
    assert stats.zero_advantage_share is None and stats.response_chars is None


def test_length_correlation_and_status_shares(pipeline):
    monitor = RewardMonitor(window_items=500, window_s=600, min_items=10, clock=Clock())
    lengths = list(range(10, 210))
    rewards = [length / 100 for length in lengths]
    rewards[::10] = [None] * 20  # failed items have no reward and do not enter the correlation
    statuses = ["partial" if i % 4 == 1 else "ok" for i in range(200)]
    feed(monitor, pipeline, rewards, lengths=lengths, statuses=statuses)
    stats = monitor.snapshot().pipelines["p"]
    assert stats.reward.length_correlation == pytest.approx(1.0)
    assert stats.status_share == {"ok": pytest.approx(0.65), "partial": pytest.approx(0.25), "error": 0.1}
    assert stats.response_chars.mean == pytest.approx(109.5)


def test_groups_span_requests_and_items_without_a_group_are_grouped_by_prompt(pipeline):
    monitor = RewardMonitor(window_items=500, window_s=600, min_items=8, clock=Clock())
    for step in range(4):  # one sample per request, as rollout workers send them
        feed(monitor, pipeline, [1.0], groups=["flat"])
        feed(monitor, pipeline, [float(step)], groups=["varied"])
        feed(monitor, pipeline, [0.0], prompts=["same prompt"])
        feed(monitor, pipeline, [float(step % 2)], prompts=["other prompt"])
    stats = monitor.snapshot().pipelines["p"]
    assert stats.groups == 4
    assert stats.zero_advantage_share == 0.5  # "flat" and "same prompt"


def test_groups_are_bounded_and_expire(pipeline):
    clock = Clock()
    monitor = RewardMonitor(window_items=50, window_s=60, min_items=2, clock=clock)
    for index in range(200):
        feed(monitor, pipeline, [1.0, float(index % 2)], groups=[f"g{index}", f"g{index}"])
    window = monitor._pipelines["p"]
    assert len(window.records) == len(window.group_keys) == 100  # twice the window, for the reference
    stats = monitor.snapshot().pipelines["p"]
    assert stats.groups == 25  # the groups of the window's 50 items
    assert stats.zero_advantage_share == pytest.approx(13 / 25)  # the odd-numbered groups: 1 and 1
    clock.now += 61
    assert monitor.snapshot().pipelines["p"].groups == 0


def test_a_pinned_reference_stays_until_released(pipeline):
    monitor = RewardMonitor(window_items=50, window_s=600, min_items=10, clock=Clock())
    feed(monitor, pipeline, [0.0, 1.0] * 25)
    assert monitor.pin_reference(["p", "other"]) == ["p"]
    feed(monitor, pipeline, [1.0] * 200)
    stats = monitor.snapshot().pipelines["p"]
    assert stats.reference == "pinned" and stats.reward.reference.mean == 0.5
    assert stats.reward.drift_ks == 0.5
    monitor.unpin_reference()
    stats = monitor.snapshot().pipelines["p"]
    assert stats.reference == "previous_window" and stats.reward.drift_ks == 0.0


def test_ensemble_spread_and_judge_order_disagreement(pipeline):
    monitor = RewardMonitor(window_items=100, window_s=600, min_items=4, clock=Clock())
    items = [ScoringItem("q", "r")] * 4
    scored_items = [
        scored_item(0.5, 0.0, 1.0),
        scored_item(0.5, 0.0, 1.0),
        scored_item(1.0, 1.0, 1.0),
        scored_item(1.0, 1.0, 1.0),
    ]
    monitor.observe(pipeline, items, scored_items, [None] * 4)
    assert monitor.snapshot().pipelines["p"].ensemble_spread == {"both": pytest.approx(0.25)}
    for first, second in [(1.0, 0.0), (1.0, 1.0), (0.0, 0.0), (0.9, 0.3), (0.5, 0.5), (1.0, 0.5)]:
        monitor.judge_orders("helpful", first, second)
    judge = monitor.snapshot().judges["helpful"]
    assert judge.pairwise_verdicts == 6 and judge.order_disagreement_share == pytest.approx(3 / 6)


def test_the_collector_exports_defined_statistics_only(pipeline):
    monitor = RewardMonitor(window_items=100, window_s=600, min_items=10, clock=Clock())
    registry = CollectorRegistry()
    registry.register(MonitorCollector(monitor))
    empty = generate_latest(registry).decode()
    assert "# TYPE rewardgate_window_length_correlation gauge" in empty
    assert "rewardgate_window_length_correlation{" not in empty
    feed(monitor, pipeline, [float(i % 3) for i in range(60)], lengths=[10 + i for i in range(60)])
    text = generate_latest(registry).decode()
    assert 'rewardgate_window_items{pipeline="p"} 60.0' in text
    assert 'rewardgate_window_reward_mean{component="",pipeline="p",window="current"} 1.0' in text
    assert 'rewardgate_window_reward_quantile{component="a",pipeline="p",quantile="0.95"} 2.0' in text
    assert 'rewardgate_window_length_correlation{component="",pipeline="p"}' in text
    assert "rewardgate_window_reward_drift_psi{" not in text  # no reference window yet
    assert 'rewardgate_window_item_share{pipeline="p",status="ok"} 1.0' in text


def test_likelihood_drift_compares_a_models_raw_values_with_its_previous_window():
    now = [0.0]
    monitor = RewardMonitor(window_items=4, window_s=100, min_items=3, clock=lambda: now[0])
    record = monitor.likelihood_recorder("model:lm")
    record([-2.0, -2.0, -2.0, -2.0], [10, 20, 30, 40])  # the previous window
    now[0] = 1.0
    record([-1.0, -1.5, -0.5, -1.0], [10, 20, 30, 40])  # the current one
    stats = monitor.snapshot().likelihood["model:lm"]
    assert stats.items == 4
    assert stats.series.summary.mean == pytest.approx(-1.0)
    assert stats.series.reference.mean == pytest.approx(-2.0)
    assert stats.mean_shift == pytest.approx(1.0)
    assert stats.series.drift_ks == pytest.approx(1.0)  # no overlap at all
    assert monitor.snapshot().as_json()["likelihood"]["model:lm"]["mean_shift"] == pytest.approx(1.0)


def test_likelihood_drift_is_absent_below_min_items():
    monitor = RewardMonitor(window_items=4, window_s=100, min_items=3)
    monitor.likelihood_recorder("model:lm")([-1.0], [5])
    stats = monitor.snapshot().likelihood["model:lm"]
    assert stats.items == 1 and stats.mean_shift is None and stats.series.drift_psi is None


def test_items_without_a_group_are_grouped_by_their_images_too(pipeline):
    """One question over different pictures is different prompts (rewardgate/media/)."""

    def asked_about(color):
        url = data_url(png(color=color))
        return [
            {"role": "user", "content": [{"type": "image", "image": url}, {"type": "text", "text": "Q?"}]}
        ]

    monitor = RewardMonitor(window_items=500, window_s=600, min_items=8, clock=Clock())
    for step in range(4):
        feed(monitor, pipeline, [float(step % 2)], prompts=[asked_about((255, 0, 0))])
        feed(monitor, pipeline, [float(step % 2)], prompts=[asked_about((0, 0, 255))])
    assert monitor.snapshot().pipelines["p"].groups == 2


@pytest.mark.parametrize("names", [("a",), ("a", "b")])
def test_each_item_is_recorded_as_one_tuple_of_numbers(names):
    """One record per item: (time, reward, status code, response chars, *component values),
    None where a component has no value; a one-component pipeline's the same as any other's."""
    one = build_runtime(
        {"rules": number_rules(*names), "pipelines": {"p": {"components": {n: {"rule": n} for n in names}}}}
    ).pipelines["p"]
    monitor = RewardMonitor(clock=Clock())
    items = [ScoringItem("q", "x" * n) for n in (1, 2, 3)]
    scored_items = [
        ScoredItem("ok", 0.5, {name: 0.5 for name in names}),
        ScoredItem("partial", -0.0, {"a": -0.0}),
        ScoredItem("error", None, {}),
    ]
    monitor.observe(one, items, scored_items, [None, "g", None])
    window = monitor._pipelines["p"]
    padding = (None,) * (len(names) - 1)
    assert repr(list(window.records)) == repr(
        [
            (1000.0, 0.5, 0.0, 1, *(0.5 for _ in names)),
            (1000.0, -0.0, 1.0, 2, -0.0, *padding),
            (1000.0, None, 2.0, 3, None, *padding),
        ]
    )
    assert list(window.group_keys) == [hash(("q", ())), "g", hash(("q", ()))]
