"""Extractors: the answer a sample commits to, as a canonical string a vote compares.

Every extractor returns ``None`` when the sample commits to no single answer:
nothing found, an answer too long to be one, or several different answers
(hedging: ``\\boxed{3} ... \\boxed{5}``). A ``None`` never votes and never
matches, so a sample cannot buy extra votes or agree with everything.
All scanning is linear in the response (no backtracking patterns).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from rewardgate.sources.rule.text import MultipleChoice, MultipleChoiceParams, normalize_answer

#: Longest answer text that still counts as one answer (a boxed essay is no answer).
MAX_ANSWER_CHARS = 200

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` / ``\\fbox{...}``, braces balanced, in order."""
    found = []
    start = 0
    while True:
        hits = [(text.find(cmd, start), cmd) for cmd in _BOX_COMMANDS]
        hits = [(at, cmd) for at, cmd in hits if at >= 0]
        if not hits:
            return found
        at, cmd = min(hits)
        index = at + len(cmd)
        while index < len(text) and text[index] == " ":
            index += 1
        if index >= len(text) or text[index] != "{":
            start = index
            continue
        depth, end = 0, None
        for position in range(index, len(text)):
            char = text[position]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    end = position
                    break
        if end is None:  # unbalanced: nothing after this point is a complete box
            return found
        found.append(text[index + 1 : end])
        start = end + 1


# Why these rewrites: the same number is written many ways by a model; TTRL-style
# voting must count "\dfrac{1}{2}", "1/2" and "0.5" as one answer.
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad|\\left|\\right|\s+")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\{([^{}]*)\}")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}$")
_SIMPLE_FRAC = re.compile(r"^(-?)\\[dt]?frac(\d)(\d)$")
_NUMBER = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")
_RATIO = re.compile(r"^(-?\d+)/(-?\d+)$")
_ASSIGNMENT = re.compile(r"^[a-zA-Z]=(?!=)")


def canonical_math(answer: str) -> str | None:
    """A math answer in one spelling: LaTeX spacing, ``\\text{}``, ``$``, a leading
    ``x=``, degree and percent marks dropped; numbers (integers, decimals,
    ``a/b``, ``\\frac{a}{b}``) as reduced fractions (``1/2``, ``5``)."""
    text = _TEXT.sub(r"\1", answer)
    text = _SPACING.sub("", text).replace("$", "").replace("\\%", "").replace("%", "")
    text = text.replace("^\\circ", "").replace("^{\\circ}", "").replace("\\dfrac", "\\frac")
    text = text.replace("\\tfrac", "\\frac").rstrip(".")
    text = _ASSIGNMENT.sub("", text)
    if not text or len(text) > MAX_ANSWER_CHARS:
        return None
    number = _as_number(text)
    if number is None:
        return text
    if number.denominator == 1:
        return str(number.numerator)
    return f"{number.numerator}/{number.denominator}"


def _as_number(text: str) -> Fraction | None:
    try:
        if match := _FRAC.match(text) or _SIMPLE_FRAC.match(text):
            sign, top, bottom = match.groups()
            value = Fraction(int(top), int(bottom))
            return -value if sign else value
        if match := _RATIO.match(text):
            return Fraction(int(match.group(1)), int(match.group(2)))
        if _NUMBER.match(text) and any(c.isdigit() for c in text):
            return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None
    return None


_ANSWER_LINE = re.compile(r"(?i)\banswer\s*(?:is)?\s*:?\s*([^\n]{1,200})")


def math_answer(response: str) -> str | None:
    """The final math answer: every boxed answer (they must agree), else the text
    after the last "answer is" / "Answer:"; canonicalised by :func:`canonical_math`."""
    boxed = boxed_contents(response)
    if not boxed:
        lines = _ANSWER_LINE.findall(response)
        boxed = lines[-1:]
    answers = {canonical_math(box) for box in boxed}
    if len(answers) != 1:
        return None
    return answers.pop()


def choice_answer(response: str, choices: str = "ABCDEFGHIJ") -> str | None:
    """The one option letter the response commits to (the ``multiple_choice`` rule's reading:
    boxed, after "answer is", or alone on a line); naming several is no answer."""
    named = _choice_reader(choices).choices_named(response)
    return next(iter(named)) if len(named) == 1 else None


_readers: dict[str, MultipleChoice] = {}


def _choice_reader(choices: str) -> MultipleChoice:
    if choices not in _readers:
        _readers[choices] = MultipleChoice(MultipleChoiceParams(choices=choices))
    return _readers[choices]


def text_answer(response: str) -> str | None:
    """The whole response, SQuAD-normalised (case, punctuation, articles, spacing)."""
    normalised = normalize_answer(response)
    return normalised if normalised and len(normalised) <= MAX_ANSWER_CHARS else None


_FENCE = "```"


def code_output_answer(response: str) -> str | None:
    """The last fenced block's body (a predicted program output), lines right-stripped and
    blank edge lines dropped; the fence's language tag is not part of it."""
    end = response.rfind(_FENCE)
    if end < 0:
        return None
    start = response.rfind(_FENCE, 0, end)
    if start < 0:
        return None
    body = response[start + len(_FENCE) : end]
    first_newline = body.find("\n")
    if first_newline < 0:
        return None
    lines = [line.rstrip() for line in body[first_newline + 1 :].split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) if lines else None


EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "math": math_answer,
    "choice": choice_answer,
    "text": text_answer,
    "code_output": code_output_answer,
}
