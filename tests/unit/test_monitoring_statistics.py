"""The monitor's statistics against values worked out by hand or by definition."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rewardgate.reward_monitor import statistics as st


def test_average_ranks_share_ties():
    assert st.average_ranks(np.array([10.0, 30.0, 20.0, 20.0])).tolist() == [1.0, 4.0, 2.5, 2.5]


def test_spearman_is_one_for_any_monotone_relation_and_none_without_variation():
    x = np.arange(1.0, 50.0)
    assert st.spearman(x, np.log(x)) == pytest.approx(1.0)
    assert st.spearman(x, -(x**3)) == pytest.approx(-1.0)
    assert st.spearman(x, np.ones_like(x)) is None
    assert st.spearman(np.array([1.0]), np.array([2.0])) is None


def test_spearman_matches_pearson_of_ranks_with_ties():
    x = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 4.0])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    rx, ry = st.average_ranks(x), st.average_ranks(y)
    assert st.spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])


def test_ks_statistic_by_definition():
    a, b = np.array([0.0, 1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0, 5.0])
    points = np.linspace(-1, 6, 701)
    by_definition = max(abs((a <= p).mean() - (b <= p).mean()) for p in points)
    assert st.ks_statistic(a, b) == pytest.approx(by_definition) == 0.5
    assert st.ks_statistic(a, a) == 0.0


def test_psi_of_binary_rewards_by_hand():
    reference = np.array([1.0] * 50 + [0.0] * 50)
    current = np.array([1.0] * 90 + [0.0] * 10)
    expected = (0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5)
    assert st.population_stability_index(reference, current) == pytest.approx(expected)
    assert st.population_stability_index(reference, reference) == 0.0


def test_psi_of_continuous_values_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 4000)
    assert st.population_stability_index(reference, rng.normal(0, 1, 4000)) < 0.02
    assert st.population_stability_index(reference, rng.normal(1.5, 1, 4000)) > 0.5


def test_psi_stays_finite_when_the_current_window_leaves_every_reference_bin():
    reference = np.linspace(0, 1, 200)
    value = st.population_stability_index(reference, np.full(200, 7.0))
    assert np.isfinite(value) and value > 5


def test_zero_advantage_share_counts_groups_of_equal_rewards():
    groups = [np.array([1.0, 1.0, 1.0]), np.array([0.0, 1.0]), np.array([0.5, 0.5]), np.array([0.3])]
    assert st.zero_advantage_share(groups) == pytest.approx(2 / 3)  # the single-reward group is no group
    assert st.zero_advantage_share([np.array([1.0])]) is None


def test_summary_and_member_spread():
    summary = st.summarize(np.arange(101.0))
    assert (summary.count, summary.mean, summary.quantiles[0.5], summary.quantiles[0.95]) == (
        101,
        50.0,
        50.0,
        95.0,
    )
    members = np.array([[0.0, 1.0], [1.0, 1.0], [np.nan, 3.0]])
    assert st.mean_member_spread(members) == pytest.approx(0.25)  # rows with a missing member are left out
    assert st.mean_member_spread(np.array([[np.nan, 1.0]])) is None


@pytest.mark.parametrize("n", [2, 3, 7])
def test_spearman_agrees_with_a_brute_force_rank_correlation(n):
    for perm in itertools.islice(itertools.permutations(range(n)), 20):
        x, y = np.arange(n, dtype=float), np.array(perm, dtype=float)
        d2 = ((x - y) ** 2).sum()
        assert st.spearman(x, y) == pytest.approx(1 - 6 * d2 / (n * (n * n - 1)))
