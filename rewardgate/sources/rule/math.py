"""Math answer equivalence with ``math-verify``.

Runs isolated in the verifier pool: sympy can take unbounded time on hostile
input, and math-verify's own ``signal.alarm`` timeout does not work off the main
thread, so it is disabled here and the pool enforces ``timeout_s`` by killing
the worker process instead.
"""

from __future__ import annotations

import json
import re

from pydantic import Field

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams
from rewardgate.sources.rule.math_answers import (
    answer_blocks,
    answer_chains,
    boxed_answers,
    marked_answers,
    split_candidates,
)


class MathVerifyParams(RuleParams):
    timeout_s: float = Field(5.0, gt=0, le=300, description="Per-item limit; the worker is killed.")
    float_rounding: int = Field(6, ge=0, le=15, description="Decimal places compared for floats.")
    numeric_precision: int = Field(15, ge=1, le=50, description="Significant digits for sympy.")
    strict: bool = Field(True, description="math-verify strict mode (variables must match).")
    refuse_hedging: bool = Field(
        True,
        description="A response stating several different final answers scores 0.0 (docs/rules.md).",
    )
    max_answers: int = Field(
        8, ge=1, le=64, description="Most distinct final-answer candidates compared; more is a hedge."
    )


class MathVerify(Rule):
    """1.0 when the response's final answer equals the reference, else 0.0.

    The reference is parsed first ("gold first"); an unparseable reference, or
    one that reads as prose ("see the textbook": math-verify would read it as
    a product of single-letter variables), is :class:`InvalidReference`; an
    unparseable response is a wrong answer (0.0).
    """

    type_name = "math_verify"
    Params = MathVerifyParams
    isolated = True

    def grade(self, item: ScoringItem) -> float:
        from math_verify import parse  # heavy import, only in workers

        reference = self.require_reference(item)
        if reads_as_prose(reference) or _is_json_data(reference):
            raise InvalidReference(f"the reference is not a math answer: {reference[:80]!r}")
        gold = parse(_as_math(reference), parsing_timeout=None)
        # parse() falls back to the raw string when nothing mathematical was found.
        if not any(not isinstance(value, str) for value in gold):
            raise InvalidReference(f"math-verify cannot parse the reference {reference[:80]!r}")
        answer = None
        if self.params.refuse_hedging:
            hedged, boxes_are_one_list = self._hedges(item.response, single=not _several_values(gold[0]))
            if hedged:
                return 0.0
            boxes = boxed_answers(item.response)
            # One stated answer (possibly repeated): grade it alone, not math-verify's
            # merge of adjacent boxes (which reads "\\boxed{0.5} \\boxed{\\frac12}" as a set).
            if boxes and not boxes_are_one_list:
                answer = parse(f"\\boxed{{{boxes[-1][2]}}}", parsing_timeout=None)
        if answer is None:
            answer = parse(item.response, parsing_timeout=None)
        if not answer:
            return 0.0
        return 1.0 if verify_equal(gold, answer, self.params) else 0.0

    def _hedges(self, response: str, single: bool) -> tuple[bool, bool]:
        """(whether the response states several different final answers, whether its boxes
        together form one multi-valued answer such as "\\boxed{1}, \\boxed{2}")."""
        from math_verify import parse

        boxes = boxed_answers(response)
        if len({content.strip() for _, _, content in boxes}) > self.params.max_answers:
            return True, False  # a box spray: refused before any further scan
        chains = answer_chains(response)
        one_list = False
        # Each group holds texts math-verify parses that must all state the same answer.
        if single:
            # Every box and every value after an answer marker is a final answer: all must agree.
            stated = [content for _, _, content in boxes]
            stated += [c for token in marked_answers(response) for c in _token_candidates(token)]
            groups = [[_boxed(c) for content in stated for c in split_candidates(content)]]
            groups += [[_boxed(c) for token in chain for c in _token_candidates(token)] for chain in chains]
        else:
            # A multi-valued answer may be written as adjacent boxes: allowed when the
            # boxes form one list; boxes stated apart must agree.
            box_tokens = {_boxed(content) for _, _, content in boxes}
            one_list = len(box_tokens) > 1 and any(box_tokens <= set(chain) for chain in chains)
            groups = [] if one_list else [[_boxed(content) for _, _, content in boxes]]
        groups.append(answer_blocks(response))  # several <answer> blocks must agree too
        # The cap bounds the sympy work: distinct candidate texts, each parsed once.
        distinct = {candidate.strip() for group in groups for candidate in group}
        if len(distinct) > self.params.max_answers:
            return True, one_list
        parsed_once = {c: parse(c, parsing_timeout=None) for c in distinct}
        for group in groups:
            parsed = [parsed_once[c] for c in dict.fromkeys(c.strip() for c in group) if parsed_once[c]]
            if any(not verify_equal(parsed[0], other, self.params) for other in parsed[1:]):
                return True, one_list
        return False, one_list

    def warm_up(self) -> None:
        """Import math-verify, run one check, and mute its per-call warning that the
        signal timeout is disabled (the pool enforces the limit instead)."""
        import logging

        logging.getLogger("math_verify").setLevel(logging.ERROR)
        self.grade(ScoringItem("", "1", "1"))


def verify_equal(first, second, params: MathVerifyParams) -> bool:
    """math-verify's equivalence under the rule's precision settings (signal timeout off)."""
    from math_verify import verify

    return verify(
        first,
        second,
        float_rounding=params.float_rounding,
        numeric_precision=params.numeric_precision,
        strict=params.strict,
        timeout_seconds=None,
    )


def _several_values(gold) -> bool:
    """A set, interval, tuple or list answer: a list of values is then the answer, not a hedge."""
    from sympy import Set, Tuple
    from sympy.matrices import MatrixBase

    return isinstance(gold, Set | Tuple | MatrixBase | list | tuple)


def _boxed(answer: str) -> str:
    return f"\\boxed{{{answer}}}"


def _token_candidates(token: str) -> list[str]:
    """A chain token is "$…$" or "\\boxed{…}"; the candidates it names."""
    body = token[1:-1] if token.startswith("$") else token[len("\\boxed{") : -1]
    return split_candidates(body)


_TEXT_BLOCK = re.compile(r"\\(?:text|textbf|mathrm|mbox|operatorname|begin|end)\{[^{}]*\}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset(
    {
        *("sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh"),
        *("log", "exp", "sqrt", "max", "min", "mod", "gcd", "lcm", "det", "deg", "inf", "sup", "lim", "and"),
    }
)


def _is_json_data(reference: str) -> bool:
    """Structured data, not math: JSON holding an object, a string, a boolean or null
    (``{"answer": 2}``, ``[{"answer": 2}]``, ``["2", "3"]``). Numbers and lists of
    numbers (``[1, 2]``, an interval) are math; sets like ``{1, 2}`` are not JSON."""
    text = reference.strip()
    if not text.startswith(("{", "[", '"')):
        return False
    try:
        return _holds_non_numbers(json.loads(text))
    except (ValueError, RecursionError):
        return False


def _holds_non_numbers(value) -> bool:
    if isinstance(value, list):
        return any(_holds_non_numbers(item) for item in value)
    return isinstance(value, dict | str | bool) or value is None


def reads_as_prose(reference: str) -> bool:
    """Two or more words (3+ letters, outside LaTeX commands and \\text{}), or one word and no digit."""
    bare = _LATEX_COMMAND.sub(" ", _TEXT_BLOCK.sub(" ", reference))
    words = [word for word in _WORD.findall(bare) if word.lower() not in _MATH_WORDS]
    return len(words) >= 2 or (len(words) == 1 and not any(ch.isdigit() for ch in reference))


def _as_math(reference: str) -> str:
    """Bare gold answers ("42", "\\frac{1}{2}") parse reliably once put in math mode."""
    stripped = reference.strip()
    if "$" in stripped or "\\boxed" in stripped or "\\(" in stripped or "\\[" in stripped:
        return stripped
    return f"${stripped}$"
