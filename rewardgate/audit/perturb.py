"""Meaning-preserving perturbations of an honest response (the robustness figures).

Each is a plain function ``text -> text`` that must not change what a careful
grader would conclude; it returns the text unchanged when it has nothing to
change (those pairs are left out). Add one to :data:`PERTURBATIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_BOXED_INT = re.compile(r"\\boxed\{(\d+)\}")
_FRAC = re.compile(r"\\frac\{(\d+)\}\{(\d+)\}")

#: Phrase-level paraphrases a rule can make safely (whole words, case kept at the start).
_PARAPHRASES = (
    ("so the answer is", "hence the answer is"),
    ("the answer is", "the result is"),
    ("so ", "therefore "),
    ("gives", "yields"),
    ("It was written by", "The author is"),
    ("The capital of", "The capital city of"),
)


def whitespace(text: str) -> str:
    """Doubled spaces, a leading and a trailing newline."""
    return "\n" + text.replace(" ", "  ") + "\n"


def math_forms(text: str) -> str:
    """Equivalent forms of a final answer: a boxed integer as ``N.0``, ``\\frac{a}{b}`` as ``a/b``;
    a bare integer answer as ``N.0``."""
    changed = _BOXED_INT.sub(lambda m: f"\\boxed{{{m.group(1)}.0}}", text)
    changed = _FRAC.sub(lambda m: f"{m.group(1)}/{m.group(2)}", changed)
    if changed == text and text.strip().isdigit():
        changed = f"{text.strip()}.0"
    return changed


def paraphrase(text: str) -> str:
    """Synonym-level rewording of stock phrases (no answer is touched)."""
    for old, new in _PARAPHRASES:
        if old in text:
            return text.replace(old, new, 1)
    return text


def markdown(text: str) -> str:
    """The same text as a Markdown paragraph under a heading."""
    return f"**Answer.**\n\n{text}"


_ANSWER_BLOCK = re.compile(r"(<answer>)(.*?)(</answer>)", re.S)


def inside_answer(perturb: Callable[[str], str]) -> Callable[[str], str]:
    """``perturb`` applied to the ``<answer>`` block of a formatted response (the format is part of
    what the response must do, so perturbing around it would not preserve its meaning)."""

    def apply(text: str) -> str:
        if "<answer>" not in text:
            return perturb(text)
        return _ANSWER_BLOCK.sub(lambda m: m.group(1) + perturb(m.group(2)) + m.group(3), text, count=1)

    apply.__doc__ = perturb.__doc__
    return apply


PERTURBATIONS: dict[str, Callable[[str], str]] = {
    name: inside_answer(function)
    for name, function in (
        ("whitespace", whitespace),
        ("math_forms", math_forms),
        ("paraphrase", paraphrase),
        ("markdown", markdown),
    )
}
