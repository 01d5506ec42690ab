"""Meaning-preserving perturbations of an honest response (the robustness figures).

Each is a plain function ``text -> text`` that must not change what a careful
grader would conclude; it returns the text unchanged when it has nothing to
change (those pairs are left out). Add one to :data:`PERTURBATIONS`.
:data:`ITEM_PERTURBATIONS` rewrite the whole item (prompt, reference and both
answers together): ``item -> item | None`` (None: nothing to change).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from rewardgate.audit.data import AuditItem

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


_FENCED = re.compile(r"```.*?```", re.S)


def outside_code(perturb: Callable[[str], str]) -> Callable[[str], str]:
    """``perturb`` applied to everything but fenced code blocks: doubling a space inside a string
    literal or rewording "so " in a program changes what it does, which a perturbation must not."""

    def apply(text: str) -> str:
        blocks = _FENCED.findall(text)
        if not blocks:
            return perturb(text)
        held = _FENCED.sub(lambda m: f"\x00{blocks.index(m.group(0))}\x00", text)
        return re.sub(r"\x00(\d+)\x00", lambda m: blocks[int(m.group(1))], perturb(held))

    apply.__doc__ = perturb.__doc__
    return apply


PERTURBATIONS: dict[str, Callable[[str], str]] = {
    name: inside_answer(outside_code(function))
    for name, function in (
        ("whitespace", whitespace),
        ("math_forms", math_forms),
        ("paraphrase", paraphrase),
        ("markdown", markdown),
    )
}


_OPTION = re.compile(r"^(\s*\(?)([A-J])([).:]\s+)(.*)$", re.M)
_LETTER_IN_ANSWER = re.compile(r"(\\boxed\{|\(|answer is\s+|[Aa]nswer:\s*)([A-J])(?=[)}\s.,;]|$)")


def option_order(item: AuditItem) -> AuditItem | None:
    """A multiple-choice item with its options in reverse order, relabelled, and the reference
    letter and the letters the answers name (``\\boxed{B}``, ``(B)``, ``answer is B``, ``Answer: B``)
    mapped along; None for an item without options ``A) … B) …`` (or ``(A)``, ``A.``, ``A:``) from A on.
    """
    if not isinstance(item.prompt, str):
        return None
    options = _OPTION.findall(item.prompt)
    letters = [letter for _, letter, _, _ in options]
    if len(letters) < 2 or letters != [chr(ord("A") + i) for i in range(len(letters))]:
        return None
    texts = [text for _, _, _, text in options]
    moved = {letters[i]: letters[len(letters) - 1 - i] for i in range(len(letters))}
    position = iter(range(len(letters)))

    def relabel(match: re.Match) -> str:
        index = next(position)
        return f"{match.group(1)}{letters[index]}{match.group(3)}{texts[len(texts) - 1 - index]}"

    def remap(text: str) -> str:
        return _LETTER_IN_ANSWER.sub(lambda m: m.group(1) + moved.get(m.group(2), m.group(2)), text)

    reference = item.reference
    if reference is not None and reference.strip() in moved:
        reference = moved[reference.strip()]
    return dataclasses.replace(
        item,
        prompt=_OPTION.sub(relabel, item.prompt),
        reference=reference,
        right=remap(item.right),
        wrong=remap(item.wrong),
    )


ITEM_PERTURBATIONS: dict[str, Callable[[AuditItem], AuditItem | None]] = {"option_order": option_order}
