"""multiple_choice: a letter offered as an alternative is a second answer (docs/rules.md,
"Several final answers are a wrong answer"); honest single answers keep scoring."""

import pytest

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule

RULE = build_rule("multiple_choice", {})


@pytest.mark.parametrize(
    "response",
    [
        "The answer is B. Or possibly A.",
        "The answer is (B) or maybe (A)",
        "B\nOr possibly A",
        "B\nOr possibly (A).",
        "The answer is B, or possibly D",
        "The answer is B, perhaps C.",
        "\\boxed{B}, alternatively \\boxed{C}",
        "\\boxed{A \\text{ or } B}",
        "The answer is either A or B",
        "<answer>B</answer><answer>A</answer>",
        # hedge phrases built from other hedge words
        "The answer is B (if not, then A).",
        "The answer is B, could also be A",
        "Answer: B. Failing that, A.",
        "Answer: B or rather A",
        "B\nOtherwise A.",
        # found by `rewardgate audit` (hedging): the first answer phrase swallowed the second,
        # and a letter written as an option before the hedge word was not read
        "The answer is 9 is odd, so it is prime. The answer is (C). or B.",
        "(C). Or possibly B.",
        "C. Or possibly B.",
        "C) or maybe B",
    ],
)
def test_an_alternative_letter_is_a_hedge_and_scores_zero(response):
    assert RULE.grade(ScoringItem("", response, "B")) == 0.0


@pytest.mark.parametrize(
    "response",
    [
        "The answer is B",
        "\\boxed{B}",
        "Maybe I should check again. The answer is B.",
        "Or possibly I misread; no, the answer is (B).",
        "The answer is B. It is clearly right.",
        "Answer: B, then check that A is wrong.",
        "The answer is (B). Option A could be tempting but is wrong.",
        "The answer is 7 because it has no other divisors. The answer is (B).",
        "Option (A) is tempting. The answer is (B).",
    ],
)
def test_a_single_letter_with_hedge_words_in_prose_still_scores_one(response):
    assert RULE.grade(ScoringItem("", response, "B")) == 1.0
