"""Hand-computed expectations for every pure operation of the algebra."""

import math

import pytest

from rewardgate.algebra import functions as fn
from rewardgate.algebra.running_stats import RunningStats, StatsStore
from rewardgate.algebra.spec import DelimiterSplit, TagSplit


def test_sigmoid_and_log_sigmoid_values_and_stability():
    assert fn.sigmoid(0.0) == 0.5
    assert fn.sigmoid(2.0) == pytest.approx(1 / (1 + math.exp(-2)))
    assert fn.log_sigmoid(0.0) == pytest.approx(math.log(0.5))
    assert fn.log_sigmoid(-3.0) == pytest.approx(math.log(1 / (1 + math.exp(3))))
    assert fn.sigmoid(-1000.0) == 0.0 and fn.sigmoid(1000.0) == 1.0  # no OverflowError
    assert fn.log_sigmoid(-1000.0) == pytest.approx(-1000.0)
    assert fn.log_sigmoid(1000.0) == 0.0


def test_clip():
    assert fn.clip(5.0, -1.0, 1.0) == 1.0
    assert fn.clip(-5.0, -1.0, None) == -1.0
    assert fn.clip(0.3, None, 1.0) == 0.3


VALUES = {"a": 1.0, "b": 4.0, "c": -2.0}


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        ("mean", 1.0),
        ("min", -2.0),
        ("median", 1.0),
        ("mean_minus_std", 1.0 - 0.5 * math.sqrt(((0) ** 2 + 3**2 + 3**2) / 3)),
    ],
)
def test_ensemble_aggregates(aggregate, expected):
    assert fn.ensemble(VALUES, aggregate, penalty=0.5) == pytest.approx(expected)


def test_weighted_ensemble_normalises_by_the_weight_sum():
    weights = {"a": 1.0, "b": 2.0, "c": 1.0}
    assert fn.ensemble(VALUES, "weighted", weights) == pytest.approx((1 + 8 - 2) / 4)


def test_combine_terms():
    terms = {"x": 2.0, "y": -0.5, "z": 3.0}
    assert fn.combine_terms(terms, "weighted_sum") == pytest.approx(4.5)
    assert fn.combine_terms(terms, "product") == pytest.approx(-3.0)
    assert fn.combine_terms(terms, "min") == -0.5
    with pytest.raises(ValueError, match="no weighted component"):
        fn.combine_terms({}, "weighted_sum")


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("correct >= 1", 1.0, True),
        ("correct >= 1", 0.99, False),
        ("safe < 0.5", 0.2, True),
        ("x == -2", -2.0, True),
        ("x != 1e-3", 0.001, False),
        ("x > 2.5", 3.0, True),
        ("x <= 0", 0.0, True),
    ],
)
def test_conditions(text, value, holds):
    assert fn.Condition.parse(text).holds(value) is holds


def test_malformed_condition_is_rejected():
    with pytest.raises(ValueError, match="COMPONENT OP NUMBER"):
        fn.Condition.parse("correct is true")


def test_length_penalties():
    assert fn.overlong_penalty(5, max_length=10, cache_length=5) == 0.0
    assert fn.overlong_penalty(8, max_length=10, cache_length=5) == pytest.approx(-0.6)
    assert fn.overlong_penalty(11, max_length=10, cache_length=5) == -1.0
    assert fn.linear_length_penalty(100, target=100) == 0.0
    assert fn.linear_length_penalty(150, target=100) == pytest.approx(-0.5)


def test_split_steps_by_delimiter_and_tag():
    assert fn.split_steps("a\n\n b \n\n\n\nc\n\n", DelimiterSplit(delimiter="\n\n")) == ["a", "b", "c"]
    assert fn.split_steps("x<step>one</step> <step>\ntwo\n</step><step> </step>", TagSplit(tag="step")) == [
        "one",
        "two",
    ]
    assert fn.split_steps("no steps", TagSplit(tag="step")) == []


def test_step_aggregates_and_deltas():
    scores = [0.9, 0.5, 0.7]
    assert fn.aggregate_steps(scores, "min") == 0.5
    assert fn.aggregate_steps(scores, "last") == 0.7
    assert fn.aggregate_steps(scores, "product") == pytest.approx(0.315)
    assert fn.aggregate_steps([1.5, -0.5, 0.5], "product") == 0.0  # factors clipped to [0, 1]
    assert fn.aggregate_steps(scores, "clipped_sum") == pytest.approx(-0.1 - 0.5 - 0.3)
    assert fn.aggregate_steps(scores, "clipped_sum", threshold=0.6) == pytest.approx(-0.1)
    assert fn.step_deltas(scores) == pytest.approx([0.4, -0.2, 0.7])


def test_running_stats_match_the_population_formulas():
    stats = RunningStats()
    for value in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]:
        stats.update(value)
    assert (stats.count, stats.mean, stats.std) == (8, pytest.approx(5.0), pytest.approx(2.0))
    assert stats.standardize(9.0, 1e-6) == pytest.approx(2.0)


def test_first_value_standardises_to_zero_thanks_to_the_std_floor():
    stats = RunningStats()
    stats.update(3.0)
    assert stats.standardize(3.0, 1e-6) == 0.0


def test_stats_store_round_trips_through_its_file(tmp_path):
    path = tmp_path / "stats.json"
    store = StatsStore(path)
    for value in (1.0, 2.0, 6.0):
        store.get("p/c@x/t0").update(value)
    store.save()
    again = StatsStore(path).get("p/c@x/t0")
    assert (again.count, again.mean, again.m2) == (3, pytest.approx(3.0), pytest.approx(14.0))


def test_unreadable_stats_file_starts_fresh(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text("{not json")
    assert StatsStore(path).get("k").count == 0
