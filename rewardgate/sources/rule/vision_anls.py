"""The ``anls`` rule: document / OCR answers by normalised edit distance, hardened against hedges.

DocVQA's ANLS pays ``1 - NL`` (NL: Levenshtein distance over the longer
string's length) below a threshold and 0 above it. As a reward that is
gameable in two ways (docs/audit.md#images), both closed here:

* **Lists.** "Acme Corporation, Apex Holdings" against "Acme Corporation" was
  a near miss (0.52): a response that names more parts than the reference
  answer has is a list of candidates, scored as its *worst* part, each part
  scored as if it had been the whole answer (so listing never beats committing
  to any one of them). A reference answer that is itself a list ("Smith, John",
  "Procter and Gamble") allows a response with as many parts, compared whole.
* **Splices / near misses of several answers.** Under the step (1 - NL, then 0)
  a splice of two candidates ("12 Mary 2023" from "12 March 2024" and "21 May
  2023") sits halfway between them and earns ~0.77 from either, more than the
  0.5 a committed guess earns when the other candidate scores 0. The default
  ``scoring: ramp`` pays ``max(0, 1 - NL / threshold)`` instead: a convex,
  decreasing credit, for which ``f(d1) + f(d2) <= 1 + f(d1 + d2)``; with the
  triangle inequality ``d1 + d2 >= d(a, b)`` a response's expected credit over
  which candidate is right never exceeds committing to one (at most a tie).
  ``scoring: docvqa`` keeps the benchmark's step for evaluation parity.

Contracts: :func:`answer_parts` splits on list separators and hedge words (see
``_SEPARATOR``), never inside a number ("1,284.50", "12,5"); parts empty
after stripping punctuation are dropped; a response with more than
``MAX_SEPARATORS`` separators scores 0. Matching collapses whitespace, strips
surrounding punctuation and ignores case unless ``case_sensitive``. All scans
are linear (RE2); the distance is skipped where the length difference alone
reaches the threshold.
"""

from __future__ import annotations

import json
from typing import Literal

import re2
from pydantic import Field
from rapidfuzz.distance import Levenshtein

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams
from rewardgate.sources.rule.vision_parsing import TooMany

# What separates candidates: list punctuation, brackets (an alternative in parentheses), newlines,
# and the words hedges and lists are made of ("either X or Y", "X, maybe Y", "X and Y").
_SEPARATOR = re2.compile(
    "[,;\uff0c\uff1b\u3001/|&()\\[\\]\n]"  # also the fullwidth comma, semicolon, ideographic comma
    r"|(?i:\b(?:or|and|either|maybe|possibly|perhaps|probably|alternatively|otherwise|else)\b)"
)
# More separators than this and the text is not one answer (reading stops there: bounded work).
MAX_SEPARATORS = 64
# Stripped from both ends of the answer and of each part: what never changes the answer.
_EDGE = " \t\r\n.,;:!?\"'`*_"


def answer_parts(text: str) -> list[str]:
    """The parts a text names, split on ``_SEPARATOR`` outside numbers; empty parts dropped.

    Raises :class:`TooMany` past ``MAX_SEPARATORS`` separators (counted before empty parts drop),
    or past four times as many separator characters in all (commas inside numbers included).
    """
    parts, start = [], 0
    for seen, match in enumerate(_SEPARATOR.finditer(text)):
        if seen == 4 * MAX_SEPARATORS:
            raise TooMany(f"more than {4 * MAX_SEPARATORS} separator characters")
        at = match.start()
        # A comma between digits is a number's (thousands "1,284", decimal "12,5"), not a list's.
        if text[at] == "," and 0 < at < len(text) - 1 and text[at - 1].isdigit() and text[at + 1].isdigit():
            continue
        if len(parts) == MAX_SEPARATORS:
            raise TooMany(f"more than {MAX_SEPARATORS} separators")
        parts.append(text[start:at])
        start = match.end()
    parts.append(text[start:])
    return [part for part in (p.strip(_EDGE) for p in parts) if part]


class AnlsParams(RuleParams):
    threshold: float = Field(
        0.5, gt=0, le=1, description="Normalised edit distance at or above which the score is 0."
    )
    scoring: Literal["ramp", "docvqa"] = Field(
        "ramp",
        description="ramp: max(0, 1 - NL/threshold), a splice of candidates never beats committing; "
        "docvqa: the benchmark's 1 - NL below threshold (gameable by splices, for evaluation parity).",
    )
    case_sensitive: bool = Field(False, description="Compare case (DocVQA's ANLS does not).")


class Anls(Rule):
    """Document / OCR answers: the best over the reference answers of the
    credit for the normalised Levenshtein distance NL (see ``scoring``).

    The reference is a string, or a JSON list of acceptable strings. A response
    naming more parts (``answer_parts``) than a reference answer has scores, for
    that answer, as its worst part; whitespace is collapsed, surrounding
    punctuation stripped, case ignored unless ``case_sensitive``.
    """

    type_name = "anls"
    Params = AnlsParams

    def grade(self, item: ScoringItem) -> float:
        answers = accepted_answers(self.require_reference(item))
        try:
            parts = answer_parts(item.response)
        except TooMany:
            return 0.0  # a wall of separators is no answer
        # Whole-response comparison only against answers with at least as many parts.
        whole = max(
            (self._credit(item.response, a) for a in answers if self._part_count(a) >= len(parts)),
            default=0.0,
        )
        if len(parts) < 2:
            return whole
        worst = 1.0
        for part in parts:  # a list of candidates earns what its worst candidate would alone
            worst = min(worst, max(self._credit(part, a) for a in answers))
            if worst == 0.0:
                break
        return max(whole, worst)

    @staticmethod
    def _part_count(answer: str) -> int:
        try:
            return len(answer_parts(answer))
        except TooMany:
            return MAX_SEPARATORS + 1  # a reference that long is compared whole with any response

    def _normal(self, text: str) -> str:
        text = " ".join(text.split()).strip(_EDGE)
        return text if self.params.case_sensitive else text.lower()

    def _credit(self, response: str, answer: str) -> float:
        said, target = self._normal(response), self._normal(answer)
        if not said or not target:
            return 1.0 if said == target else 0.0
        threshold, ramp = self.params.threshold, self.params.scoring == "ramp"
        # ramp measures edits against the reference answer's length, which the response cannot
        # stretch (under DocVQA's longer-string length, padding a splice shrinks its distance).
        scale = len(target) if ramp else max(len(said), len(target))
        # The distance is at least the length difference: skip hopeless pairs without computing it.
        if abs(len(said) - len(target)) >= threshold * scale:
            return 0.0
        distance = Levenshtein.distance(said, target) / scale
        if distance >= threshold:
            return 0.0
        return 1.0 - distance / threshold if ramp else 1.0 - distance


def accepted_answers(reference: str) -> list[str]:
    """The acceptable answers a reference holds: a JSON list's strings, else the reference itself."""
    if reference.lstrip().startswith("["):
        try:
            data = json.loads(reference)
        except ValueError:
            data = None
        if isinstance(data, list) and data and all(isinstance(a, str) for a in data):
            return data
    return [reference]
