"""Strict, typed parsing of a judge's reply into a value in [0, 1].

* a refusal (``message.refusal``, ``finish_reason="content_filter"``, or an
  unparseable reply that reads like one) is :class:`JudgeRefusal`;
* a reply cut by ``max_tokens`` (``finish_reason="length"``), one without the
  requested answer, or an answer out of range is :class:`JudgeParseError`;
* never a default value.

Values: a score is normalised ``(s - lowest) / (highest - lowest)``; a
verdict is 1 for yes and 0 for no; a winner is 1 for A, 0 for B, 0.5 for a
tie. With token log-probabilities, the value is the expectation over the
candidate answers at the answer token (e.g. ``sum_s p(s) s`` renormalised over
valid scores), which is smoother than the sampled answer.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from rewardgate.errors import JudgeParseError, JudgeRefusal
from rewardgate.sources.judge.templates import Answer

REFUSAL = re.compile(
    r"^\s*(i('m| am)? sorry|i can(no|')t|i (will|won't|must decline)|as an ai)", re.IGNORECASE
)


@dataclass(frozen=True)
class Reply:
    """The parts of a chat completion the parser reads."""

    content: str | None
    finish_reason: str | None
    refusal: str | None = None
    logprobs: list[Any] | None = None  # ChatCompletionTokenLogprob-like: token, logprob, top_logprobs


def parse_reply(
    reply: Reply, answer: Answer, *, output: str, pattern: str | None, scale: tuple[int, int]
) -> float:
    """The reply's value in [0, 1]. Raises JudgeRefusal or JudgeParseError."""
    if reply.refusal or reply.finish_reason == "content_filter":
        raise JudgeRefusal(f"the judge refused: {(reply.refusal or 'content filter')[:200]}")
    content = reply.content or ""
    if reply.finish_reason == "length":
        raise JudgeParseError(f"the judge's reply was truncated at max_tokens: {content[-120:]!r}")
    try:
        raw, offset = _extract(content, answer, output, pattern)
        value = _value(raw, answer, scale)
    except JudgeParseError:
        if REFUSAL.match(content):
            raise JudgeRefusal(f"the judge refused: {content[:200]!r}") from None
        raise
    if reply.logprobs:
        expected = _expected(reply.logprobs, offset, len(raw.strip()), answer, scale)
        if expected is not None:
            return expected
    return value


def _extract(content: str, answer: Answer, output: str, pattern: str | None) -> tuple[str, int]:
    """The answer text and its character offset in ``content``."""
    if output == "json":
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise JudgeParseError(f"the judge's reply is not JSON ({exc.msg}): {content[:120]!r}") from None
        if not isinstance(data, dict) or answer.json_key not in data:
            raise JudgeParseError(f"the judge's JSON has no {answer.json_key!r}: {content[:120]!r}")
        raw = str(data[answer.json_key])
        key_at = content.find(f'"{answer.json_key}"')
        return raw, max(content.find(raw, key_at), 0)
    matches = list(re.finditer(pattern or answer.pattern, content))
    if not matches:
        raise JudgeParseError(f"no {answer.json_key} found in the judge's reply: {content[-120:]!r}")
    last = matches[-1]  # the conclusion, after any reasoning
    return last.group(1), last.start(1)


def _value(raw: str, answer: Answer, scale: tuple[int, int]) -> float:
    text = raw.strip().lower()
    if answer.kind == "number":
        try:
            score = float(text)
        except ValueError:
            raise JudgeParseError(f"score {raw!r} is not a number") from None
        low, high = scale
        if not (math.isfinite(score) and low <= score <= high):
            raise JudgeParseError(f"score {raw!r} is outside the scale [{low}, {high}]")
        return (score - low) / (high - low)
    if answer.kind == "verdict":
        if text not in ("yes", "no"):
            raise JudgeParseError(f"verdict {raw!r} is not yes or no")
        return 1.0 if text == "yes" else 0.0
    if text not in ("a", "b", "tie"):
        raise JudgeParseError(f"winner {raw!r} is not A, B or tie")
    return {"a": 1.0, "b": 0.0, "tie": 0.5}[text]


def _expected(
    tokens: list[Any], offset: int, length: int, answer: Answer, scale: tuple[int, int]
) -> float | None:
    """Probability-weighted value at the token covering the answer at ``offset``.

    None (use the parsed value) when the answer spans several tokens: the
    alternatives of its first token ("1" of "10") say nothing about the whole."""
    position = 0
    for token in tokens:
        text = token.token
        if position + len(text) > offset and text.strip():
            start = position + len(text) - len(text.lstrip())
            covers = start <= offset and offset + length <= position + len(text.rstrip())
            return _expectation(token.top_logprobs or [], answer, scale) if covers else None
        position += len(text)
    return None


def _expectation(candidates: list[Any], answer: Answer, scale: tuple[int, int]) -> float | None:
    mass: dict[float, float] = {}
    for candidate in candidates:
        try:
            value = _value(candidate.token, answer, scale)
        except JudgeParseError:
            continue
        mass[value] = mass.get(value, 0.0) + math.exp(candidate.logprob)
    total = sum(mass.values())
    if total <= 0:
        return None
    return sum(value * p for value, p in mass.items()) / total
