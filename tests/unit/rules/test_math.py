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
