"""Format rules: regex match, think/answer structure, length window, repetition
and overlong (DAPO) penalties.

Patterns are compiled with RE2, whose matching time is linear in the input,
so a hostile response cannot trigger catastrophic backtracking and the rule can
run inline on the event loop.

Lengths and emptiness are read through :mod:`rewardgate.visible_text`, in the
direction that does not pay the policy: a floor (a minimum length, a non-empty
block) counts only visible characters, a ceiling (a maximum length, a penalty)
counts everything the response spent. Invisible characters can neither fill a
block nor hide words from a penalty.
"""

from __future__ import annotations

from typing import Literal

import re2
from pydantic import Field, field_validator, model_validator

from rewardgate.algebra.functions import overlong_penalty
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams
from rewardgate.visible_text import is_blank, spent_length, visible_length, visible_words

_FLAG_PREFIX = {"dotall": "s", "ignorecase": "i", "multiline": "m"}


class RegexParams(RuleParams):
    pattern: str = Field(description="RE2 syntax (no backreferences or lookaround).")
    mode: Literal["search", "fullmatch"] = Field(
        "search", description="search: anywhere in the response; fullmatch: the whole response."
    )
    flags: list[Literal["dotall", "ignorecase", "multiline"]] = Field(default_factory=lambda: ["dotall"])

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        problem = re2_problem(pattern)
        if problem:
            raise ValueError(f"not valid RE2 syntax: {problem}")
        return pattern


def re2_problem(pattern: str) -> str | None:
    """Why RE2 rejects ``pattern`` (as text), or None. RE2's own C++ error log stays quiet:
    the message is reported once, as a configuration problem."""
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return None


def compile_pattern(params: RegexParams):
    """Compile with RE2 (the pattern was validated when the params were built)."""
    prefix = "".join(_FLAG_PREFIX[f] for f in params.flags)
    source = f"(?{prefix}){params.pattern}" if prefix else params.pattern
    return re2.compile(source)


class RegexMatch(Rule):
    """1.0 when the response matches ``pattern``, else 0.0."""

    type_name = "regex"
    Params = RegexParams
    reads = ("response",)

    def __init__(self, params: RegexParams) -> None:
        super().__init__(params)
        self._compiled = compile_pattern(params)

    def __getstate__(self) -> dict:
        # RE2 objects do not pickle; recompile on the other side.
        return {"params": self.params}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["params"])

    def grade(self, item: ScoringItem) -> float:
        if self.params.mode == "fullmatch":
            matched = self._compiled.fullmatch(item.response)
        else:
            matched = self._compiled.search(item.response)
        return 1.0 if matched else 0.0


class ThinkAnswerParams(RuleParams):
    think_tag: str = Field("think", pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")
    answer_tag: str = Field("answer", pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")
    require_answer: bool = Field(True, description="An answer block must follow the think block.")

    @model_validator(mode="after")
    def _distinct_tags(self) -> ThinkAnswerParams:
        if self.think_tag == self.answer_tag:
            raise ValueError("think_tag and answer_tag must differ")
        return self


class ThinkAnswer(Rule):
    """1.0 when the response is exactly ``<think>…</think>`` then ``<answer>…</answer>``
    (each once, each with visible text, nothing else but whitespace around); else 0.0.

    With ``require_answer: false`` the think block must open the response and
    anything may follow it.
    """

    type_name = "think_answer"
    grades_whole_response = True
    Params = ThinkAnswerParams
    reads = ("response",)

    def grade(self, item: ScoringItem) -> float:
        think, answer = self.params.think_tag, self.params.answer_tag
        text = item.response.strip()
        opening, closing = f"<{think}>", f"</{think}>"
        if not text.startswith(opening) or text.count(opening) != 1 or text.count(closing) != 1:
            return 0.0
        thought, _, rest = text[len(opening) :].partition(closing)
        if is_blank(thought):
            return 0.0
        if not self.params.require_answer:
            return 1.0
        rest = rest.strip()
        a_open, a_close = f"<{answer}>", f"</{answer}>"
        if not (rest.startswith(a_open) and rest.endswith(a_close)):
            return 0.0
        body = rest[len(a_open) : -len(a_close)]
        return 1.0 if not is_blank(body) and a_open not in body and a_close not in body else 0.0


def measure(text: str, unit: str) -> int:
    """A length penalty's length of ``text``: :func:`~rewardgate.visible_text.spent_length`
    (every character, or every word however it is glued)."""
    return spent_length(text, unit)


class LengthWindowParams(RuleParams):
    min_length: int = Field(0, ge=0)
    max_length: int = Field(gt=0)
    unit: Literal["chars", "words"] = "words"
    outside_score: float = Field(0.0, description="Score outside the window.")

    @model_validator(mode="after")
    def _ordered(self) -> LengthWindowParams:
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")
        return self


class LengthWindow(Rule):
    """1.0 when the response length is within [min_length, max_length], else ``outside_score``.

    The minimum counts visible text only, the maximum everything spent
    (:mod:`rewardgate.visible_text`)."""

    type_name = "length_window"
    grades_whole_response = True
    Params = LengthWindowParams
    reads = ("response",)

    @property
    def score_range(self) -> tuple[float, float]:
        return (min(self.params.outside_score, 1.0), max(self.params.outside_score, 1.0))

    def grade(self, item: ScoringItem) -> float:
        unit = self.params.unit
        minimum = self.params.min_length
        long_enough = minimum == 0 or visible_length(item.response, unit) >= minimum
        inside = long_enough and spent_length(item.response, unit) <= self.params.max_length
        return 1.0 if inside else self.params.outside_score


class RepetitionParams(RuleParams):
    ngram: int = Field(3, ge=1, le=20, description="n-gram size over whitespace words.")
    max_penalty: float = Field(-1.0, le=0, description="Score of a response that is all repeats.")


class RepetitionPenalty(Rule):
    """``max_penalty x (1 - unique n-grams / n-grams)``: 0 for no repetition, down to
    ``max_penalty`` when every n-gram repeats; 0 for responses shorter than n.

    n-grams are over the visible words, case-folded (punctuation, case, width
    variants and invisible characters do not make a repeat new)."""

    type_name = "repetition_penalty"
    grades_whole_response = True
    Params = RepetitionParams
    reads = ("response",)

    @property
    def score_range(self) -> tuple[float, float]:
        return (self.params.max_penalty, 0.0)

    def grade(self, item: ScoringItem) -> float:
        words = visible_words(item.response)
        n = self.params.ngram
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        if not grams:
            return 0.0
        return self.params.max_penalty * (1 - len(set(grams)) / len(grams))


class OverlongParams(RuleParams):
    max_length: int = Field(gt=0, description="L_max: at or beyond it the penalty is -1.")
    cache_length: int = Field(gt=0, description="L_cache: the soft zone before L_max.")
    unit: Literal["chars", "words"] = "words"

    @model_validator(mode="after")
    def _cache_within_max(self) -> OverlongParams:
        if self.cache_length > self.max_length:
            raise ValueError("cache_length must not exceed max_length")
        return self


class OverlongPenalty(Rule):
    """DAPO's soft overlong punishment: 0 up to ``L_max - L_cache``, then falling
    linearly to -1 at ``L_max``, and -1 beyond."""

    type_name = "overlong_penalty"
    grades_whole_response = True
    Params = OverlongParams
    reads = ("response",)
    score_range = (-1.0, 0.0)

    def grade(self, item: ScoringItem) -> float:
        length = measure(item.response, self.params.unit)
        return overlong_penalty(length, self.params.max_length, self.params.cache_length)
