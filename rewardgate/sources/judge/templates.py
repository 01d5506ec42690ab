"""Prompt templates of each judge kind, and the answer each one expects.

Templates are ``str.format`` strings (literal braces doubled). Variables:

===============  ==========================================================
``{prompt}``     the conversation before the response, as text
``{response}``   the response being judged (pointwise, principle, constraint,
                 correctness)
``{reference}``  the item's reference (correctness: the gold answer)
``{response_a}`` ``{response_b}``  pairwise: the two responses in this order
``{scale_min}`` ``{scale_max}``    pointwise/principle: the score range
``{principle}``  principle: the item's principle (``metadata[principle_field]``)
``{constraint}`` constraint: the judge's declared rule
===============  ==========================================================
"""

from __future__ import annotations

import string
from dataclasses import dataclass

VARIABLES = {
    "prompt",
    "response",
    "reference",
    "response_a",
    "response_b",
    "scale_min",
    "scale_max",
    "principle",
    "constraint",
}

SYSTEM = (
    "You are a careful, impartial evaluator. Judge only what you are asked, "
    "ignore the length and style of the text unless asked about them, and answer in the requested format."
)


@dataclass(frozen=True)
class Answer:
    """What a kind's output must contain: a JSON key and the text pattern fallback."""

    json_key: str
    pattern: str
    kind: str  # "number", "winner" or "verdict"


NUMBER = Answer("score", r"(?i)score\s*[:=]\s*\**\s*(-?\d+(?:\.\d+)?)", "number")
WINNER = Answer("winner", r"(?i)winner\s*[:=]\s*\**\s*[\"']?(A|B|tie)\b", "winner")
VERDICT = Answer("verdict", r"(?i)verdict\s*[:=]\s*\**\s*[\"']?(yes|no)\b", "verdict")

_FORMAT = {
    "number": 'Reply with a JSON object {{"reasoning": "<brief>", "score": <integer>}}.',
    "winner": 'Reply with a JSON object {{"reasoning": "<brief>", "winner": "A" | "B" | "tie"}}.',
    "verdict": 'Reply with a JSON object {{"reasoning": "<brief>", "verdict": "yes" | "no"}}.',
}
_PATTERN_FORMAT = {
    "number": "End your reply with a line 'Score: <integer>'.",
    "winner": "End your reply with a line 'Winner: A', 'Winner: B' or 'Winner: tie'.",
    "verdict": "End your reply with a line 'Verdict: yes' or 'Verdict: no'.",
}

DEFAULTS = {
    "pointwise": (
        "Rate how well the response answers the conversation, from {scale_min} (useless or wrong) "
        "to {scale_max} (excellent: correct, helpful, complete).\n\n"
        "[Conversation]\n{prompt}\n\n[Response]\n{response}\n",
        NUMBER,
    ),
    "principle": (
        "Rate how well the response follows this principle, from {scale_min} (violates it) "
        "to {scale_max} (follows it fully).\n\n[Principle]\n{principle}\n\n"
        "[Conversation]\n{prompt}\n\n[Response]\n{response}\n",
        NUMBER,
    ),
    "pairwise": (
        "Which response answers the conversation better? Position and length must not influence you.\n\n"
        "[Conversation]\n{prompt}\n\n[Response A]\n{response_a}\n\n[Response B]\n{response_b}\n",
        WINNER,
    ),
    "constraint": (
        "Does the response satisfy this rule? Answer yes only if it fully does.\n\n"
        "[Rule]\n{constraint}\n\n[Conversation]\n{prompt}\n\n[Response]\n{response}\n",
        VERDICT,
    ),
    "correctness": (
        "Is the final answer of the response equivalent to the reference answer? Ignore formatting, "
        "units written differently and the reasoning; judge only the final answer.\n\n"
        "[Question]\n{prompt}\n\n[Reference answer]\n{reference}\n\n[Response]\n{response}\n",
        VERDICT,
    ),
}


def answer_for(kind: str) -> Answer:
    return DEFAULTS[kind][1]


def user_template(kind: str, template: str | None, output: str) -> str:
    """The user-message template: the declared one, or the kind's default plus its format line."""
    if template is not None:
        return template
    body, answer = DEFAULTS[kind]
    fmt = _FORMAT if output == "json" else _PATTERN_FORMAT
    return body + "\n" + fmt[answer.kind]


#: The item field each template variable is filled from (the others come from the spec).
ITEM_FIELD_OF = {
    "prompt": "prompt",
    "response": "response",
    "reference": "reference",
    "response_a": "response",
    "response_b": "reference",
    "principle": "metadata",
}


def item_fields_used(template: str) -> set[str]:
    """Item fields a (valid) template reads; they must all enter the verdict's cache key."""
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    return {ITEM_FIELD_OF[name] for name in names if name in ITEM_FIELD_OF}


def template_problems(template: str) -> list[str]:
    """Unknown or malformed variables of a user template (empty when it is valid)."""
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        return [f"template is not a valid format string: {exc} (double literal braces)"]
    unknown = sorted(n for n in names if n not in VARIABLES)
    if unknown:
        return [f"template uses unknown variables {unknown}; known: {sorted(VARIABLES)}"]
    return []
