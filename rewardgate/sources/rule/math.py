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


class MathVerifyParams(RuleParams):
    timeout_s: float = Field(5.0, gt=0, le=300, description="Per-item limit; the worker is killed.")
    float_rounding: int = Field(6, ge=0, le=15, description="Decimal places compared for floats.")
    numeric_precision: int = Field(15, ge=1, le=50, description="Significant digits for sympy.")
    strict: bool = Field(True, description="math-verify strict mode (variables must match).")


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
        from math_verify import parse, verify  # heavy import, only in workers

        reference = self.require_reference(item)
        if reads_as_prose(reference) or _is_json_data(reference):
            raise InvalidReference(f"the reference is not a math answer: {reference[:80]!r}")
        gold = parse(_as_math(reference), parsing_timeout=None)
        # parse() falls back to the raw string when nothing mathematical was found.
        if not any(not isinstance(value, str) for value in gold):
            raise InvalidReference(f"math-verify cannot parse the reference {reference[:80]!r}")
        answer = parse(item.response, parsing_timeout=None)
        if not answer:
            return 0.0
        equal = verify(
            gold,
            answer,
            float_rounding=self.params.float_rounding,
            numeric_precision=self.params.numeric_precision,
            strict=self.params.strict,
            timeout_seconds=None,
        )
        return 1.0 if equal else 0.0

    def warm_up(self) -> None:
        """Import math-verify, run one check, and mute its per-call warning that the
        signal timeout is disabled (the pool enforces the limit instead)."""
        import logging

        logging.getLogger("math_verify").setLevel(logging.ERROR)
        self.grade(ScoringItem("", "1", "1"))


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
