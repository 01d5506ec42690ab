"""Group methods and extractors: hand-computed values and the hacks that must fail."""

import pytest

from rewardgate.groups.extract import (
    boxed_contents,
    canonical_math,
    choice_answer,
    code_output_answer,
    math_answer,
    text_answer,
)
from rewardgate.groups.methods import (
    bradley_terry,
    duplicate_penalty,
    jaccard,
    majority_vote,
    shingles,
    view_agreement,
    vote,
)


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        (r"so the answer is \boxed{\dfrac{1}{2}}.", "1/2"),
        (r"\boxed{0.5}", "1/2"),
        ("The answer is: 1/2", "1/2"),
        (r"\boxed{x = 1,000}", "1000"),
        (r"\boxed{\frac12}", "1/2"),
        (r"\boxed{ 5 }\quad and again \boxed{5.0}", "5"),  # repeating one answer is still one answer
        (r"\boxed{\sqrt{2}}", r"\sqrt{2}"),
        (r"\boxed{90^\circ}", "90"),
        (r"\boxed{-\frac{3}{6}}", "-1/2"),
    ],
)
def test_math_answers_are_canonical(response, answer):
    assert math_answer(response) == answer


@pytest.mark.parametrize(
    "response",
    [
        r"\boxed{3} or maybe \boxed{5}",  # hedging: two answers are no answer
        "I am not sure.",
        r"\boxed{" + "1" * 300 + "}",  # an essay in a box is no answer
        r"\boxed{}",
        r"\boxed{unbalanced",
    ],
)
def test_math_non_answers_do_not_vote(response):
    assert math_answer(response) is None


def test_boxed_contents_balances_braces():
    assert boxed_contents(r"\boxed{\frac{1}{2}} x \fbox{3}") == [r"\frac{1}{2}", "3"]
    assert canonical_math("$\\text{ 7 }$") == "7"


def test_choice_text_and_code_output_extractors():
    assert choice_answer("The answer is (B).") == "B"
    assert choice_answer("Answer: A and C") is None  # naming two options is no answer
    assert choice_answer("The answer is (K)", choices="ABCDEFGHIJK") == "K"
    assert text_answer("The Eiffel Tower!") == text_answer("eiffel tower")
    assert text_answer("  ...  ") is None
    assert code_output_answer("prints:\n```output\n[1, 2]   \n\n```\n") == "[1, 2]"
    assert code_output_answer("```\n1\n```\nthen\n```text\n2\n```") == "2"  # the last block
    assert code_output_answer("no fence") is None


def test_majority_vote_by_hand():
    # answers 2, 2, 3 and an abstention: label 2 with 2 of 4 votes
    values, result = majority_vote(["2", "2", "3", None])
    assert values == [1.0, 1.0, 0.0, 0.0]
    assert (result.label, result.agreement) == ("2", 0.5)


def test_ties_single_votes_and_abstentions_are_no_majority():
    assert vote(["1", "2"]).label is None  # a tie
    assert vote(["1", "1", "2", "2", None]).label is None
    assert majority_vote(["7"])[0] == [0.0]  # a group of one never rewards itself
    assert majority_vote([None, None, None]) == ([0.0, 0.0, 0.0], vote([]))
    assert majority_vote(["1", "2", "3"])[0] == [0.0, 0.0, 0.0]  # every answer once: no pseudo-label
    assert vote(["1", "1", "2", "3", "4"], min_share=0.5).label is None  # 2/5 below min_share
    assert vote(["1"], min_votes=1).label == "1"


def test_a_hedging_sample_cannot_sway_the_vote():
    responses = [r"\boxed{4}", r"\boxed{4}", r"\boxed{5}", r"\boxed{5} \boxed{5} \boxed{6}"]
    values, result = majority_vote([math_answer(r) for r in responses])
    # the last sample abstains (two different answers), so 4 wins 2 to 1
    assert result.label == "4" and values == [1.0, 1.0, 0.0, 0.0]


def test_view_agreement_by_hand():
    answers = ["1", "1", "2", "1", "2", "2"]
    views = ["orig", "orig", "orig", "para", "para", "para"]
    values, votes = view_agreement(answers, views)
    # orig is scored against para's vote (2: two of three), para against orig's (1)
    assert [v.label for v in votes] == ["2", "1"]
    assert values == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_duplicate_penalty_by_hand_and_near_copies():
    base = "We add the two numbers and get forty two as the final result here"
    texts = [
        base,
        base.upper() + "!!",
        "  ".join(base.split()),
        "A completely different line of reasoning leads to six",
    ]
    # the first three are copies of each other (case, punctuation and spacing do not count)
    assert duplicate_penalty(texts) == [-2 / 3, -2 / 3, -2 / 3, 0.0]
    assert duplicate_penalty(["only one"]) == [0.0]
    assert jaccard(shingles("w x y z"), shingles("w x y q")) == pytest.approx(1 / 3)


@pytest.mark.parametrize("hide", ["\u200b", "\u200d", "\u2060", "\u00ad", "\ufeff"])
def test_invisible_characters_inside_words_do_not_hide_a_copy(hide):
    # Found by `rewardgate audit` (near_duplicates): a zero-width character after each word's first
    # letter made every shingle new, so a copy escaped the penalty the exact copy got.
    base = "We add the two numbers and get forty two as the final result here"
    hidden = " ".join(word[:1] + hide + word[1:] for word in base.split())
    assert duplicate_penalty([base, hidden, "Something else entirely"]) == [-0.5, -0.5, 0.0]


def test_bradley_terry_recovers_known_strengths_and_smooths_clean_sweeps():
    import math

    # wins drawn exactly from strengths 1, 2, 4: the fit gives back their centred logs
    wins = {(0, 1): 1 / 3, (0, 2): 1 / 5, (1, 2): 1 / 3}
    centre = sum(math.log(s) for s in (1, 2, 4)) / 3
    assert bradley_terry(3, wins, smoothing=0) == pytest.approx([math.log(s) - centre for s in (1, 2, 4)])
    # one clean win with smoothing 0.1 counts 11/12: log-strengths +-log(11)/2
    assert bradley_terry(2, {(0, 1): 1.0}) == pytest.approx([0.5 * math.log(11), -0.5 * math.log(11)])
    assert bradley_terry(1, {}) == [0.0]
    # a sample that wins everything stays finite
    sweep = bradley_terry(4, {(0, j): 1.0 for j in (1, 2, 3)} | {(1, 2): 0.5, (1, 3): 0.5, (2, 3): 0.5})
    assert all(math.isfinite(r) for r in sweep) and sweep[0] == max(sweep)


def test_majority_vote_rewards_confident_wrong_consensus():
    """The failure mode docs/reward-algebra.md shows: the vote knows agreement, not truth."""
    responses = [r"2+2 is \boxed{5}", r"Adding: \boxed{5}", r"I get \boxed{5.0}", r"2+2 = \boxed{4}"]
    values, result = majority_vote([math_answer(r) for r in responses])
    assert (result.label, result.agreement) == ("5", 0.75)
    assert values == [1.0, 1.0, 1.0, 0.0]  # the only correct sample is the one pushed down
