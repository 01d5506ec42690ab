"""The audit's comparison and bias figures against hand calculations (docs/audit.md)."""

import math

import numpy as np
import pytest

from rewardgate.audit import figures
from rewardgate.audit.data import AuditItem

A = [1.0, 0.0, 0.5, 0.25]
B = [0.8, 0.1, 0.2, 0.4]
GROUPS = ["p1", "p1", "p2", "p2"]


def test_correlations_equal_the_textbook_formulas():
    got = figures.compare(A, B, GROUPS, ["a", "b", "c", "d"])
    mean_a, mean_b = sum(A) / 4, sum(B) / 4
    cov = sum((a - mean_a) * (b - mean_b) for a, b in zip(A, B, strict=True))
    pearson = cov / math.sqrt(sum((a - mean_a) ** 2 for a in A) * sum((b - mean_b) ** 2 for b in B))
    assert got["pearson"] == pytest.approx(pearson)
    # Ranks: A = (4, 1, 3, 2), B = (4, 1, 2, 3); d^2 = 0 + 0 + 1 + 1; rho = 1 - 6*2 / (4*15)
    assert got["spearman"] == pytest.approx(1 - 6 * 2 / (4 * 15))
    # Pairs (6): concordant except (c, d): tau = (5 - 1) / 6
    assert got["kendall"] == pytest.approx(4 / 6)
    assert got["pairwise_agreement"] == pytest.approx(5 / 6)


def test_starc_distance_centres_per_prompt_then_normalises():
    # p1: A (1, 0) -> (0.5, -0.5); p2: A (0.5, 0.25) -> (0.125, -0.125)
    ca = np.array([0.5, -0.5, 0.125, -0.125])
    cb = np.array([0.35, -0.35, -0.1, 0.1])
    expected = np.linalg.norm(ca / np.linalg.norm(ca) - cb / np.linalg.norm(cb)) / 2
    assert figures.starc_distance(np.array(A), np.array(B), GROUPS) == pytest.approx(expected)


def test_starc_distance_ignores_per_prompt_offsets_and_scale_and_sees_opposites():
    shifted = [3 * a + {"p1": 7.0, "p2": -2.0}[g] for a, g in zip(A, GROUPS, strict=True)]
    assert figures.starc_distance(np.array(A), np.array(shifted), GROUPS) == pytest.approx(0.0, abs=1e-12)
    assert figures.starc_distance(np.array(A), -np.array(A), GROUPS) == pytest.approx(1.0)


def test_most_disagreeing_are_ordered_by_the_canonical_gap():
    got = figures.compare(A, B, GROUPS, ["a", "b", "c", "d"], top=2)
    gaps = [row["gap"] for row in got["most_disagreeing"]]
    assert gaps == sorted(gaps, reverse=True) and {r["response"] for r in got["most_disagreeing"]} == {
        "c",
        "d",
    }


def test_constant_rewards_give_no_correlation_rather_than_a_number():
    got = figures.compare([1.0, 1.0, 1.0], [0.0, 1.0, 0.5], ["x", "x", "x"], ["a", "b", "c"])
    assert got["pearson"] is None and got["spearman"] is None and got["kendall"] is None
    assert got["starc_distance"] == pytest.approx(0.5)  # a zero vector is orthogonal to everything


def test_reward_per_100_words_is_the_slope_within_each_correctness_class():
    item = AuditItem("i", "q", "right", "wrong", "r")
    # right: 1 word -> 1.0, 51 words -> 1.5, 201 words -> 3.0; wrong constant 0
    rewards = {
        ("i", "right"): 1.0,
        ("i", "verbose:50:right"): 1.5,
        ("i", "verbose:200:right"): 3.0,
        ("i", "wrong"): 0.0,
        ("i", "verbose:50:wrong"): 0.0,
        ("i", "verbose:200:wrong"): 0.0,
    }
    responses = {key: " ".join(["w"] * n) for key, n in zip(rewards, [1, 51, 201, 1, 51, 201], strict=True)}
    got = figures.bias([item], rewards, responses)
    slope = np.polyfit([1, 51, 201], [1.0, 1.5, 3.0], 1)[0]
    assert got["reward_per_100_words"]["right"] == pytest.approx(100 * slope)
    assert got["reward_per_100_words"]["wrong"] == pytest.approx(0.0)
    assert got["verbosity"] == {"pairs": 4, "padded_higher_share": 0.5, "mean_gain": pytest.approx(2.5 / 4)}


def test_differences_between_items_do_not_pass_for_a_length_effect():
    """A long right answer that scores 1 and a short one that scores 0, each flat under padding:
    a pooled regression would see a slope, the within-item one sees none."""
    items = [AuditItem("long", "q", "r", "w", "x"), AuditItem("short", "q", "r", "w", "x")]
    rewards, responses = {}, {}
    for item_id, base_words, reward in (("long", 100, 1.0), ("short", 1, 0.0)):
        for role, extra in (("right", 0), ("verbose:50:right", 50), ("verbose:200:right", 200)):
            rewards[(item_id, role)] = reward
            responses[(item_id, role)] = " ".join(["w"] * (base_words + extra))
    got = figures.bias(items, rewards, responses)
    assert got["reward_per_100_words"]["right"] == pytest.approx(0.0)
    assert got["reward_per_100_words"]["wrong"] is None
    assert got["length_spearman"] > 0  # the pooled rank correlation does see the item difference


def test_position_figures_equal_a_hand_calculation():
    from rewardgate.audit import position
    from rewardgate.audit.data import AuditItem

    items = [AuditItem(str(i), "q", "right", "wrong") for i in range(4)]
    # (P(right better) as A, as B): consistent win, always-A, always-B, failed
    verdicts = [(1.0, 1.0), (1.0, 0.0), (0.0, 1.0), "judge_unavailable: down"]
    row = position.figures(items, verdicts)
    assert row["pairs"] == 3 and row["failed"] == 1
    assert row["flip_share"] == 2 / 3
    # preference for A per pair: (a + 1 - b) / 2 = 0.5, 1.0, 0.0
    assert row["mean_preference_a"] == 0.5
    # the wrong response wins exactly one order in the always-A and the always-B pair
    assert row["worse_wins_by_position_share"] == 2 / 3 and row["worse_wins_share"] == 0.0
    assert [e["item"] for e in row["examples"]] == ["1", "2"]
    family = position.family({"j": row})
    assert family["success_share"] == 2 / 3 and family["items"] == 3 and family["variants_failed"] == 1


def test_compare_answers_become_both_orders_of_the_right_response():
    from rewardgate.audit import position
    from rewardgate.audit.data import AuditItem

    items = [AuditItem("1", "q", "R", "W", "ref"), AuditItem("2", "q", "R2", "W2")]
    pairs = position.compare_pairs(items)
    assert [(p["response_a"], p["response_b"]) for p in pairs] == [
        ("R", "W"),
        ("W", "R"),
        ("R2", "W2"),
        ("W2", "R2"),
    ]
    assert pairs[0]["reference"] == "ref" and "reference" not in pairs[2]
    # P(A > B) of (R, W) = 0.8 and of (W, R) = 0.3: P(R better) as A 0.8, as B 0.7
    verdicts = position.compare_verdicts([0.8, 0.3, 0.6, "invalid_reference: none"])
    assert verdicts[0] == (0.8, pytest.approx(0.7)) and verdicts[1] == "invalid_reference: none"
