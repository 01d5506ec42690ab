"""math_verify rule, evaluated in-process (the pool is tested in integration)."""

import pytest

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule

RULE = build_rule("math_verify", {})


@pytest.mark.parametrize(
    ("response", "reference", "expected"),
    [
        ("The answer is \\boxed{2}", "2", 1.0),
        ("\\boxed{\\frac{1}{2}}", "0.5", 1.0),
        ("So x = \\boxed{0.5}", "\\frac{1}{2}", 1.0),
        ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", 1.0),
        ("\\boxed{(1, 2]}", "(1,2]", 1.0),
        ("\\boxed{\\{1, 2, 3\\}}", "\\{3,2,1\\}", 1.0),
        ("The result is $x^2 + 2x + 1$", "(x+1)^2", 1.0),
        ("\\boxed{10\\text{ cm}}", "10", 1.0),  # units are stripped
        ("The speed is \\boxed{5\\,\\text{m/s}}", "5", 1.0),
        ("\\boxed{90^\\circ}", "90", 1.0),
        ("\\boxed{50\\%}", "50", 1.0),
        ("\\boxed{12\\text{ cm}}", "10", 0.0),
        ("\\boxed{3}", "2", 0.0),
        ("\\boxed{[1, 2]}", "(1,2]", 0.0),  # closed vs half-open interval
        ("\\boxed{0.51}", "\\frac{1}{2}", 0.0),
        ("I don't know", "7", 0.0),
    ],
)
def test_math_equivalence(response, reference, expected):
    assert RULE.grade(ScoringItem("", response, reference)) == expected


def test_unparseable_reference_is_an_error_not_a_wrong_answer():
    with pytest.raises(InvalidReference):
        RULE.grade(ScoringItem("", "\\boxed{1}", "???"))


# -- hedging: several different final answers are wrong, one answer restated is not ----------

HEDGES = [
    "I think \\boxed{32}. Or possibly \\boxed{42}.",
    "\\boxed{42}. Or possibly \\boxed{32}.",
    "\\boxed{32} \\boxed{42}",
    "\\boxed{42} \\boxed{32}",
    "\\boxed{32 \\text{ or } 42}",
    "\\boxed{42 \\text{ or } 32}",
    "\\boxed{32, 42}",
    "\\boxed{42; 32}",
    "\\boxed{42 \\lor 32}",
    "\\boxed{42 \\vee 32}",
    "\\boxed{32 \\text{ and } 42}",
    "The answer is 32 or 42.",
    "The answer is 42 or 32.",
    "The answer is $32$, or maybe $42$",
    "The answer is x = 42 or x = 32",
    "Final answer: $32$ or $42$",
    "Final answer: $42$ or $32$",
    "Candidates: 32, 42. Final answer: 42, 32",
    "Candidates: 32, 42. Final answer: \\boxed{32, 42}",
    "\\boxed{42}. Or possibly 32.",
    "\\boxed{42} \\text{ (or perhaps } 32)",
    "The answer is \\(42\\) or \\(32\\).",
    "<answer>\\boxed{32}</answer> then \\boxed{42}",
    " ".join(f"\\boxed{{{n}}}" for n in range(30, 50)),  # a spray over the box cap
    "32\n\nOr possibly 42.",  # no box, no marker: the last run of math is the answer
    "42\n\nOr possibly 32.",
    "It is 32, 42",
    "Perhaps 42, perhaps 32",
    "<answer>32</answer><answer>42</answer>",
    "<answer>42</answer><answer>\\frac{64}{2}</answer>",
    "\\boxed{32 \\text{ or possibly } 42}",
    "\\boxed{42 \\text{ OR } 32}",
    "\\boxed{x=42 \\text{ or } x=32}",
    "**Final Answer:** 42 or 32",
    "Answer: 42\nAnswer: 32",  # two marked answers
    "\\boxed{42} ... Final answer: 32",  # a box and a marked answer
    "The answer is 42 (or 32).",
    "\\boxed{42}. Alternatively, $32$.",
    "Either 42 or 32.",
    "$\\boxed{42}$ or $\\boxed{32}$",
    "\\boxed{42}\\quad\\fbox{32}",
    # hedge phrases built from other hedge words ("if not, then", "could also be", "failing that")
    "\\boxed{42} (if not, then 32)",
    "\\boxed{42}; if not, 32",
    "\\boxed{42}, could also be 32",
    "\\boxed{42} (else 32)",
    "\\boxed{42}, or rather 32",
    "\\boxed{42}. Failing that, 32",
    "\\boxed{42}. Could also be 32.",
    "\\boxed{42}. Instead, 32?",
]


@pytest.mark.parametrize("response", HEDGES)
def test_stating_several_different_final_answers_scores_zero(response):
    assert RULE.grade(ScoringItem("", response, "42")) == 0.0


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{42}",
        "So \\boxed{42}. Checking: 6 times 7 is \\boxed{42}.",
        "\\boxed{42} \\boxed{42}",
        "\\boxed{x = 42} hence \\boxed{42}",
        "The answer is 42 because 6 times 7 is 42.",
        "The answer is 42. 6 and 7 multiply to it.",
        "Trying 1, 2, 3 fails; 41 or 43 fail too. The answer is \\boxed{42}.",
        "The answer is $42$, i.e. $\\frac{84}{2}$",
        "I tried 41 or 43 first, then 40, 44. It is 42.",
        "42\n\nOr possibly $\\frac{84}{2}$.",  # the same value twice is not a hedge
        "<answer>42</answer><answer>x = 42</answer>",
        "The answer is $42$. Note: $6 \\times 7 = 42$.",
        "The answer is 42 and the remainder is 0",
        "The answer is 42, since 40 + 2 = 42",
        "The answer is 84/2, or 42",
        "**Answer:** 42",
        "Answer: $\\boxed{42}$",
        "The answer is $x = 42$.",
        "\\boxed{42}. It could be checked in 3 steps.",  # numbers in prose after it are not hedges
        "\\boxed{42}. Rather than 40, since 2 is added.",
    ],
)
def test_one_answer_stated_once_or_restated_still_scores_one(response):
    assert RULE.grade(ScoringItem("", response, "42")) == 1.0


@pytest.mark.parametrize(
    ("response", "reference"),
    [
        ("\\boxed{0.5} i.e. \\boxed{\\frac12}", "\\frac{1}{2}"),  # math-verify alone merged these into a set
        ("\\boxed{\\frac{1}{2}} = \\boxed{0.5}", "0.5"),
        ("\\boxed{1,000}", "1000"),  # a thousands separator is not a list
        ("\\boxed{12,345,678}", "12345678"),
        ("The speed is \\boxed{5\\,\\text{m/s}}", "5"),  # "\\," is a space, not a list
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("\\boxed{(1, 2]}", "(1,2]"),
        ("The roots are \\boxed{1} and \\boxed{2}", "\\{1, 2\\}"),  # a multi-valued answer in boxes
        ("\\boxed{1, 2}", "1, 2"),
        ("The answer is $x = 1$ or $x = 2$", "\\{1, 2\\}"),
    ],
)
def test_equivalent_forms_and_multi_valued_references_are_not_hedges(response, reference):
    assert RULE.grade(ScoringItem("", response, reference)) == 1.0


def test_two_different_answers_to_a_multi_valued_reference_stated_apart_are_a_hedge():
    response = "First \\boxed{\\{1, 2\\}}. Hmm, on reflection the set is \\boxed{\\{1, 3\\}}."
    assert RULE.grade(ScoringItem("", response, "\\{1, 2\\}")) == 0.0


def test_hedging_can_be_allowed_explicitly_and_then_math_verify_picks_the_answer():
    lenient = build_rule("math_verify", {"refuse_hedging": False})
    assert lenient.grade(ScoringItem("", "\\boxed{32}. Or possibly \\boxed{42}.", "42")) == 1.0


def test_the_answer_cap_is_a_parameter():
    capped = build_rule("math_verify", {"max_answers": 2})
    three_forms = "\\boxed{40 + 2} so \\boxed{6 \\cdot 7} so \\boxed{42}"
    assert capped.grade(ScoringItem("", three_forms, "42")) == 0.0  # over the cap, even if equal
    assert RULE.grade(ScoringItem("", three_forms, "42")) == 1.0
    assert capped.grade(ScoringItem("", "\\boxed{42} \\boxed{42} \\boxed{42}", "42")) == 1.0
