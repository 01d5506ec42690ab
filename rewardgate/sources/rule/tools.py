"""Tool-call correctness (ToolRL style): format, tool names, and arguments.

Calls are read from ``<tool_call>{…}</tool_call>`` blocks (Hermes / Qwen
style) when present, else from the whole response when it is a JSON object or
list; other text is "no call". Each call is ``{"name": str, "arguments": object}`` (a JSON
string of arguments is accepted). The reference is a JSON list of calls.

One tool-call turn is graded as a set: extra calls cost. Predicted and
reference calls are paired one to one (same tool name only), in the pairing
that maximises the score (exact: ``scipy``'s assignment solver where a tool
has several calls on both sides), and both
parts are shares of ``max(|predicted|, |reference|)``, so a call the
reference does not have counts like a reference call that was missed:

``w_format x format + w_name x names + w_args x args``, in [0, 1]

* ``format``: 1 when every block parsed into a well-formed call;
* ``names``: paired calls / max(|predicted|, |reference|);
* ``args``: the sum over paired calls of |keys with equal values| / |keys in
  either|, over max(|predicted|, |reference|).

Calling every candidate (one call per guess) therefore never beats the
expected score of the single best guess.

An empty reference list means "no call expected": 1.0 for a response with no
call, 0.0 otherwise. A reference that is not JSON calls (prose, malformed
JSON) is ``invalid_reference``, never "no call expected". Argument values
compare as JSON: ``true`` is not ``1``, ``"1"`` is not ``1``.

Tags are found with RE2 (linear time), so a response made of thousands of
unclosed ``<tool_call>`` tags costs time proportional to its length.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np
import re2
from pydantic import Field, model_validator
from scipy.optimize import linear_sum_assignment

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams
from rewardgate.sources.rule.values import same_value

_BLOCK = re2.compile(r"(?s)<tool_call>(.*?)</tool_call>")

Call = tuple[str, dict[str, Any]]


def _as_call(value: Any) -> Call | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    return (value["name"], arguments) if isinstance(arguments, dict) else None


def parse_calls(text: str) -> tuple[list[Call], bool]:
    """``(calls, well_formed)`` from a response or a reference."""
    blocks = _BLOCK.findall(text)
    stripped = text.strip()
    # Without tool-call tags only JSON-looking text is a call; prose means "no call".
    chunks = blocks if blocks else ([stripped] if stripped[:1] in ("{", "[") else [])
    calls: list[Call] = []
    well_formed = True
    for chunk in chunks:
        try:
            value = json.loads(chunk.strip())
        except (ValueError, RecursionError):
            well_formed = False
            continue
        for candidate in value if isinstance(value, list) else [value]:
            call = _as_call(candidate)
            if call is None:
                well_formed = False
            else:
                calls.append(call)
    return calls, well_formed


def _argument_overlap(predicted: dict[str, Any], reference: dict[str, Any]) -> float:
    keys = set(predicted) | set(reference)
    if not keys:
        return 1.0
    matching = sum(k in predicted and k in reference and same_value(predicted[k], reference[k]) for k in keys)
    return matching / len(keys)


def paired_calls(predicted: list[Call], reference: list[Call]) -> tuple[int, float]:
    """(paired calls, summed argument overlap) of the best one-to-one pairing of same-name calls.

    Calls pair only with calls of the same tool, so each tool's calls pair on their own: as
    many pairs as the smaller side has, with the highest total overlap. One call on either
    side pairs with its best match; several on both sides go to the assignment solver.
    """
    predicted_by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for name, arguments in predicted:
        predicted_by_name[name].append(arguments)
    reference_by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for name, arguments in reference:
        reference_by_name[name].append(arguments)
    pairs, overlap = 0, 0.0
    for name, wanted in reference_by_name.items():
        made = predicted_by_name.get(name, [])
        if not made:
            continue
        table = np.array([[_argument_overlap(p, r) for r in wanted] for p in made])
        if len(made) == 1 or len(wanted) == 1:
            pairs, overlap = pairs + 1, overlap + float(table.max())
        else:
            rows, cols = linear_sum_assignment(table, maximize=True)
            pairs, overlap = pairs + len(rows), overlap + float(table[rows, cols].sum())
    return pairs, overlap


class ToolCallParams(RuleParams):
    format_weight: float = Field(0.2, ge=0)
    name_weight: float = Field(0.3, ge=0)
    arguments_weight: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> ToolCallParams:
        if abs(self.format_weight + self.name_weight + self.arguments_weight - 1.0) > 1e-9:
            raise ValueError("format_weight + name_weight + arguments_weight must be 1")
        return self


class ToolCall(Rule):
    """Tool-call correctness against the reference call list (see module docstring)."""

    type_name = "tool_call"
    Params = ToolCallParams

    def grade(self, item: ScoringItem) -> float:
        text = self.require_reference(item)
        reference, reference_ok = parse_calls(text)
        looks_like_calls = bool(_BLOCK.search(text)) or text.strip()[:1] in ("{", "[")
        if not reference_ok or not looks_like_calls:
            raise InvalidReference("the reference is not a JSON list of {name, arguments} calls")
        predicted, well_formed = parse_calls(item.response)
        if not reference:
            return 1.0 if not predicted and well_formed else 0.0
        p = self.params
        pairs, overlap = paired_calls(predicted, reference)
        turn_size = max(len(predicted), len(reference))
        return (
            p.format_weight * (well_formed and bool(predicted))
            + p.name_weight * pairs / turn_size
            + p.arguments_weight * overlap / turn_size
        )
