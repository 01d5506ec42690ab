"""Every rule answers a Python float inside its documented range (docs/rules.md).

Generalisation under test: text metrics (and every other rule) are clamped to
their documented range and typed as floats; a non-finite result is an error,
never a score. The metrics run here in-process (in the service they run in
the verifier pool, through the same ``grade``).
"""

import math

import pytest

from rewardgate.errors import VerifierError
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule
from rewardgate.sources.rule.registry import build_rule

SENTENCE = "the quick brown fox jumps over the lazy dog near the river bank today"
METRICS = [
    ("bleu", {}),
    ("bleu", {"tokenize": "char"}),
    ("bleu", {"lowercase": True}),
    ("chrf", {}),
    ("chrf", {"word_order": 2}),
    *[("rouge", {"variant": v}) for v in ("rouge1", "rouge2", "rougeL", "rougeLsum")],
    ("token_f1", {}),
]
RESPONSES = {
    "identical": SENTENCE,
    "identical twice": f"{SENTENCE}\n{SENTENCE}",
    "empty": "",
    "white space": "  \n ",
    "one word": "the",
    "punctuation": "...",
    "unrelated": "completely different words entirely",
    "non-latin": "\u4f60\u597d\u4e16\u754c",
    "long": " ".join([SENTENCE] * 30),
}


@pytest.fixture(scope="module")
def rules():
    return {(t, tuple(sorted(p.items()))): build_rule(t, p) for t, p in METRICS}


@pytest.mark.parametrize(("rule_type", "params"), METRICS, ids=[f"{t}{p or ''}" for t, p in METRICS])
@pytest.mark.parametrize("response", list(RESPONSES))
def test_text_metrics_are_floats_within_zero_and_one(rules, rule_type, params, response):
    rule = rules[(rule_type, tuple(sorted(params.items())))]
    value = rule.grade(ScoringItem("", RESPONSES[response], SENTENCE, {}))
    assert type(value) is float
    assert 0.0 <= value <= 1.0
    if response == "identical":
        assert value == 1.0
    if response in ("empty", "white space"):
        assert value == 0.0


@pytest.mark.parametrize(
    ("rule_type", "params", "low", "high"),
    [
        ("overlong_penalty", {"max_length": 10, "cache_length": 5}, -1.0, 0.0),
        ("repetition_penalty", {"max_penalty": -2.0}, -2.0, 0.0),
        ("length_window", {"max_length": 3, "outside_score": -0.5}, -0.5, 1.0),
        ("length_window", {"max_length": 3, "outside_score": 2.0}, 1.0, 2.0),
        ("tool_call", {"format_weight": 0.1, "name_weight": 0.2, "arguments_weight": 0.7}, 0.0, 1.0),
    ],
)
def test_every_rule_declares_the_range_its_docs_give(rule_type, params, low, high):
    assert build_rule(rule_type, params).score_range == (low, high)


def test_tool_call_weights_that_sum_to_one_by_rounding_still_top_out_at_one():
    rule = build_rule("tool_call", {"format_weight": 0.1, "name_weight": 0.2, "arguments_weight": 0.7})
    call = '[{"name": "f", "arguments": {"x": 1}}]'
    assert rule.grade(ScoringItem("", call, call, {})) == 1.0


class _Raw(Rule):
    """A rule returning whatever metadata says, to test the enforcement itself."""

    type_name = "raw_for_test"

    def grade(self, item: ScoringItem) -> float:
        return item.metadata["value"]


@pytest.mark.parametrize(("raw", "expected"), [(0, 0.0), (1, 1.0), (True, 1.0), (1.0000000000000004, 1.0)])
def test_results_are_made_floats_and_clamped(raw, expected):
    value = _Raw(_Raw.Params()).grade(ScoringItem("", "", None, {"value": raw}))
    assert type(value) is float and value == expected


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf, None, "1.0", [1.0]])
def test_a_result_that_is_not_a_finite_number_is_a_verifier_error(raw):
    with pytest.raises(VerifierError, match="raw_for_test"):
        _Raw(_Raw.Params()).grade(ScoringItem("", "", None, {"value": raw}))
