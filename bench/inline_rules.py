"""Worst-case time of every inline rule on hostile responses of the largest accepted size.

Inline rules run on the event loop, so each must be linear in its input. This
times each one on responses built to trigger super-linear behaviour (runs of
spaces after "answer", thousands of unclosed tags or fences, deep JSON,
repeated words; words glued by zero-width characters, combining-mark stacks,
blank-looking fillers and non-ASCII prose for the visible-character counts;
thousands of well-formed tool calls for the call pairing) at
``max_text_chars`` (200,000 by default) and reports the worst case per rule.

Then the per-call time of each inline rule on an ordinary response (a 2 KB
think/answer solution, a two-call tool turn, a small JSON document): the
best of several timed batches, so what a busy machine adds is mostly left out.

Prints two tables, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rewardgate.config.settings import Settings
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule

SIZE = Settings().max_text_chars
#: Accented Latin, math symbols and Han: every character class the visible counts tell apart.
NON_ASCII_PROSE = "\u00dcn\u00efc\u00f6d\u00e9 w\u00f6rds \u2264 \u03c0 \u00d7 2, \u6570\u5b66 "
HOSTILE = {
    "spaces after answer": "answer" + " " * SIZE + "1",
    "unclosed fences": "```\n" * (SIZE // 4),
    "unclosed json fences": "```json\n{" * (SIZE // 9),
    "deep json": "[" * SIZE,
    "unclosed think tags": "<think>" * (SIZE // 7),
    "repeated think/answer": "</think><answer>" * (SIZE // 16),
    "unclosed tool calls": "<tool_call>" * (SIZE // 11),
    "unclosed boxed": "\\boxed{" * (SIZE // 7),
    "repeated words": "a " * (SIZE // 2),
    "words glued by zero-width spaces": "word\u200b" * (SIZE // 5),
    "a stack of combining marks": "a" + "\u0301" * (SIZE - 1),
    "blocks filled with fillers": "<think>" + "\u3164" * (SIZE - 40) + "</think><answer>1</answer>",
    "non-ASCII prose": (NON_ASCII_PROSE * SIZE)[:SIZE],
    "well-formed calls": '<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>' * (SIZE // 60),
}
RULES = {
    "exact_match": ({}, "a"),
    "normalized_match": ({}, "a"),
    "multiple_choice": ({}, "A"),
    "contains": ({}, "a"),
    "token_f1": ({}, "a"),
    "regex": ({"pattern": "a+b"}, None),
    "think_answer": ({}, None),
    "length_window": ({"max_length": 10}, None),
    "repetition_penalty": ({}, None),
    "overlong_penalty": ({"max_length": 100, "cache_length": 10}, None),
    "json_valid": ({}, None),
    "json_schema": ({"schema": {"type": "object"}}, None),
    "tool_call": ({}, "[]"),
}


def worst_case_ms(rule_type: str, params: dict, reference: str | None) -> tuple[float, str]:
    rule = build_rule(rule_type, params)
    assert not rule.isolated, rule_type
    worst = (0.0, "")
    for label, response in HOSTILE.items():
        started = time.perf_counter()
        with contextlib.suppress(Exception):  # a typed refusal is an answer too; only time matters
            rule.grade(ScoringItem("", response, reference))
        worst = max(worst, ((time.perf_counter() - started) * 1000, label))
    return worst


SOLUTION = (
    "<think>"
    + "We add the two fractions over a common denominator, then simplify the result. " * 25
    + "</think><answer>\\boxed{\\frac{3}{4}}</answer>"
)
CALLS = '[{"name": "search", "arguments": {"q": "cats", "n": 3}}, {"name": "open", "arguments": {"id": 7}}]'
TYPICAL = {
    "tool_call": CALLS.replace("[", "<tool_call>", 1).replace("}}, {", "}}</tool_call><tool_call>{")[:-1]
    + "</tool_call>",
    "json_valid": '{"name": "Ada", "age": 36, "email": "ada@example.org"}',
    "json_schema": '{"name": "Ada", "age": 36, "email": "ada@example.org"}',
}
TYPICAL_PARAMS = {
    "json_schema": {
        "schema": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "email": {"format": "email"},
            },
            "required": ["name", "age"],
        }
    },
}
TYPICAL_REFERENCES = {"tool_call": CALLS, "multiple_choice": "A", "regex": None}


def typical_us(
    rule_type: str, params: dict, reference: str | None, batches: int = 7, calls: int = 300
) -> float:
    """Best per-call microseconds over ``batches`` batches of ``calls`` calls on an ordinary response."""
    rule = build_rule(rule_type, TYPICAL_PARAMS.get(rule_type, params))
    item = ScoringItem(
        "", TYPICAL.get(rule_type, SOLUTION), TYPICAL_REFERENCES.get(rule_type, reference or "3/4")
    )
    best = float("inf")
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(calls):
            with contextlib.suppress(Exception):
                rule.grade(item)
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


def main() -> None:
    results = {name: worst_case_ms(name, params, ref) for name, (params, ref) in RULES.items()}
    print(f"{'rule':<20} {'worst ms':>9}  input ({SIZE:,} chars)")
    for name, (ms, label) in results.items():
        print(f"{name:<20} {ms:>9.1f}  {label}")
    typical = {name: typical_us(name, params, ref) for name, (params, ref) in RULES.items()}
    print(f"\n{'rule':<20} {'us/call':>9}  ordinary response")
    for name, us in typical.items():
        print(f"{name:<20} {us:>9.1f}")
    print(
        json.dumps(
            {
                "bench": "inline_rules",
                "chars": SIZE,
                "worst_ms": {k: round(v[0], 2) for k, v in results.items()},
                "typical_us": {k: round(v, 1) for k, v in typical.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
