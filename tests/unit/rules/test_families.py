"""Text, format, structure and tool-call rules, table-driven (hand-written cases)."""

import json
import pickle

import pytest

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule


def score(rule_type, response, reference=None, **params):
    return build_rule(rule_type, params).grade(ScoringItem("", response, reference))


@pytest.mark.parametrize(
    ("response", "reference", "expected"),
    [
        ("The answer is (B).", "B", 1.0),
        ("Answer: c", "C", 1.0),
        ("I think \\boxed{D}", "D", 1.0),
        ("A) is wrong. The answer is B", "B", 1.0),
        ("The answer is A", "B", 0.0),
        ("no letter here", "B", 0.0),
    ],
)
def test_multiple_choice(response, reference, expected):
    assert score("multiple_choice", response, reference) == expected


def test_multiple_choice_rejects_a_reference_that_is_not_an_option():
    with pytest.raises(InvalidReference):
        score("multiple_choice", "A", "Z", choices="ABCD")


@pytest.mark.parametrize(
    ("rule_type", "response", "reference", "expected"),
    [
        ("contains", "Well, the capital is Paris.", "paris", 1.0),
        ("contains", "Lyon", "Paris", 0.0),
        ("token_f1", "the cat sat", "the cat sat", 1.0),
        ("token_f1", "cat sat on mat", "cat sat", pytest.approx(2 * 0.5 * 1 / 1.5)),
        ("token_f1", "dog", "cat", 0.0),
    ],
)
def test_containment_and_token_f1(rule_type, response, reference, expected):
    assert score(rule_type, response, reference) == expected


@pytest.mark.parametrize("rule_type", ["bleu", "chrf", "rouge"])
def test_reference_similarity_is_one_for_identity_and_ranks_closer_text_higher(rule_type):
    reference = "the quick brown fox jumps over the lazy dog"
    assert score(rule_type, reference, reference) == pytest.approx(1.0)
    close = score(rule_type, "the quick brown fox jumped over a lazy dog", reference)
    far = score(rule_type, "stock prices fell sharply on monday", reference)
    assert 1.0 > close > far >= 0.0


@pytest.mark.parametrize("rule_type", ["bleu", "chrf", "rouge"])
def test_metric_rules_pickle_without_their_metric_objects(rule_type):
    rule = build_rule(rule_type, {})
    rule.grade(ScoringItem("", "a b c", "a b c"))  # builds the metric
    clone = pickle.loads(pickle.dumps(rule))
    assert clone.grade(ScoringItem("", "a b c", "a b c")) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("response", "params", "expected"),
    [
        ("<think>reason</think><answer>42</answer>", {}, 1.0),
        ("  <think>a\nb</think>\n\n<answer> 42 </answer>\n", {}, 1.0),
        ("<think>reason</think>42", {}, 0.0),
        ("<think></think><answer>42</answer>", {}, 0.0),
        ("<answer>42</answer><think>x</think>", {}, 0.0),
        ("<think>a</think><think>b</think><answer>1</answer>", {}, 0.0),
        ("<think>a</think><answer>1</answer> trailing", {}, 0.0),
        ("<think>a</think><answer></answer>", {}, 0.0),
        ("<think>a</think> anything at all", {"require_answer": False}, 1.0),
        ("<reasoning>a</reasoning><final>1</final>", {"think_tag": "reasoning", "answer_tag": "final"}, 1.0),
    ],
)
def test_think_answer_structure(response, params, expected):
    assert score("think_answer", response, **params) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [(0, 0.0), (9, 0.0), (10, 1.0), (20, 1.0), (21, -0.5)],
)
def test_length_window(words, expected):
    assert (
        score(
            "length_window",
            "w " * words,
            min_length=10,
            max_length=20,
            outside_score=-0.5 if words > 20 else 0.0,
        )
        == expected
    )


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("a b c d e f", 0.0),
        ("a b", 0.0),  # shorter than n
        ("x y z x y z x y z", pytest.approx(-(1 - 3 / 7))),
        ("la " * 50, pytest.approx(-(1 - 1 / 48))),
    ],
)
def test_repetition_penalty(response, expected):
    assert score("repetition_penalty", response, ngram=3) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [(50, 0.0), (80, 0.0), (90, -0.5), (100, -1.0), (101, -1.0)],
)
def test_overlong_penalty_is_dapos_soft_punishment(words, expected):
    assert score("overlong_penalty", "w " * words, max_length=100, cache_length=20) == pytest.approx(expected)


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array"}},
    "required": ["name", "age"],
}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ('{"name": "Ada", "age": 36}', 1.0),
        ('Here you go:\n```json\n{"name": "Ada", "age": 36, "tags": []}\n```', 1.0),
        # name right of name, age, tags and the document as a whole
        ('{"name": "Ada", "age": "old"}', pytest.approx(0.2 + 0.8 * 1 / 4)),
        ('{"name": "Ada", "age": "old", "tags": []}', pytest.approx(0.2 + 0.8 * 2 / 4)),
        ('{"name": "Ada"}', pytest.approx(0.2 + 0.8 * 1 / 4)),
        ("{}", pytest.approx(0.2)),  # an absent property earns nothing
        ("[1, 2]", pytest.approx(0.2)),
        ("{not json", 0.0),
    ],
)
def test_json_schema_partial_credit(response, expected):
    assert score("json_schema", response, schema=SCHEMA) == expected


def test_json_schema_from_the_reference_and_a_bad_schema():
    assert score("json_schema", '{"a": 1}', json.dumps({"type": "object"}), schema_source="reference") == 1.0
    with pytest.raises(InvalidReference):
        score("json_schema", "{}", "not a schema", schema_source="reference")
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        build_rule("json_schema", {"schema": {"type": "no-such-type"}})


@pytest.mark.parametrize(
    ("response", "expected"), [('{"a": [1, 2]}', 1.0), ("```\n[]\n```", 1.0), ("{'a': 1}", 0.0)]
)
def test_json_valid(response, expected):
    assert score("json_valid", response) == expected


GOLD = json.dumps(
    [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
        {"name": "get_time", "arguments": {"tz": "CET"}},
    ]
)


def calls(*items):
    return "".join(f"<tool_call>{json.dumps(i)}</tool_call>" for i in items)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            calls(
                {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
                {"name": "get_time", "arguments": {"tz": "CET"}},
            ),
            1.0,
        ),
        # right names, one argument wrong: args = (1/2 + 1) / 2
        (
            calls(
                {"name": "get_weather", "arguments": {"city": "Lyon", "unit": "C"}},
                {"name": "get_time", "arguments": {"tz": "CET"}},
            ),
            pytest.approx(0.2 + 0.3 + 0.5 * 0.75),
        ),
        # arguments given as a JSON string are accepted; one of two calls made
        (
            calls({"name": "get_time", "arguments": json.dumps({"tz": "CET"})}),
            pytest.approx(0.2 + 0.3 * 1 / 2 + 0.5 * 1 / 2),
        ),
        (calls({"name": "send_email", "arguments": {}}), pytest.approx(0.2)),
        ("<tool_call>{broken</tool_call>", 0.0),
        ("I will not call any tool.", 0.0),
    ],
)
def test_tool_call_partial_credit(response, expected):
    assert score("tool_call", response, GOLD) == expected


def test_tool_call_with_no_expected_call():
    assert score("tool_call", "Just an answer.", "[]") == 1.0
    assert score("tool_call", calls({"name": "x", "arguments": {}}), "[]") == 0.0


def test_tool_call_weights_must_sum_to_one():
    with pytest.raises(ValueError, match="must be 1"):
        build_rule("tool_call", {"format_weight": 0.5, "name_weight": 0.5, "arguments_weight": 0.5})
