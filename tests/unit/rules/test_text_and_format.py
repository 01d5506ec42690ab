"""Text and regex rules, table-driven."""

import pytest

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule


def item(response, reference="x"):
    return ScoringItem(prompt="", response=response, reference=reference)


@pytest.mark.parametrize(
    ("rule_type", "response", "reference", "expected"),
    [
        ("exact_match", "Paris", "Paris", 1.0),
        ("exact_match", " Paris\n", "Paris", 1.0),
        ("exact_match", "paris", "Paris", 0.0),
        ("normalized_match", "The Paris!", "paris", 1.0),
        ("normalized_match", "  an   apple ", "Apple.", 1.0),
        ("normalized_match", "\uff30\uff41\uff52\uff49\uff53", "paris", 1.0),  # full-width (NFKC)
        ("normalized_match", "Lyon", "Paris", 0.0),
    ],
)
def test_text_match_rules(rule_type, response, reference, expected):
    assert build_rule(rule_type, {}).grade(item(response, reference)) == expected


@pytest.mark.parametrize("rule_type", ["exact_match", "normalized_match"])
@pytest.mark.parametrize("reference", [None, "", "   "])
def test_text_rules_refuse_a_missing_reference(rule_type, reference):
    with pytest.raises(InvalidReference):
        build_rule(rule_type, {}).grade(item("a", reference))


@pytest.mark.parametrize(
    ("params", "response", "expected"),
    [
        ({"pattern": r"\\boxed\{.+\}"}, "so \\boxed{42}", 1.0),
        ({"pattern": r"\\boxed\{.+\}"}, "so 42", 0.0),
        ({"pattern": "^<think>.*</think>"}, "<think>a\nb</think> ok", 1.0),  # dotall default
        ({"pattern": "^<think>.*</think>", "flags": []}, "<think>a\nb</think>", 0.0),
        ({"pattern": "answer", "flags": ["ignorecase"]}, "ANSWER", 1.0),
        ({"pattern": "[0-9]+", "mode": "fullmatch"}, "123", 1.0),
        ({"pattern": "[0-9]+", "mode": "fullmatch"}, "123a", 0.0),
    ],
)
def test_regex_rule(params, response, expected):
    assert build_rule("regex", params).grade(item(response, None)) == expected


def test_regex_is_linear_on_a_classic_redos_pattern():
    rule = build_rule("regex", {"pattern": "^(a+)+$"})
    # Catastrophic for a backtracking engine; RE2 answers at once.
    assert rule.grade(item("a" * 100_000 + "!", None)) == 0.0


def test_regex_rule_survives_pickling_for_worker_processes():
    import pickle

    rule = pickle.loads(pickle.dumps(build_rule("regex", {"pattern": "b+"})))
    assert rule.grade(item("abbb", None)) == 1.0
