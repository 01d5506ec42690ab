"""Pure arithmetic of the reward algebra: no I/O, no state, easy to test.

Formulas match docs/reward-algebra.md; every function documents its domain.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rewardgate.algebra.spec import CONDITION, DelimiterSplit, TagSplit
from rewardgate.visible_text import visible_text

# ---------------------------------------------------------------- scalar maps


def sigmoid(x: float) -> float:
    """Logistic function, without overflow for any finite ``x``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def log_sigmoid(x: float) -> float:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


def clip(x: float, low: float | None, high: float | None) -> float:
    if low is not None and x < low:
        return low
    if high is not None and x > high:
        return high
    return x


# ---------------------------------------------------------------- ensembles


def population_std(values: Sequence[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def ensemble(
    values: Mapping[str, float],
    aggregate: str,
    weights: Mapping[str, float] | None = None,
    penalty: float = 1.0,
) -> float:
    """Aggregate member scores (already standardised where configured).

    ``mean``, ``min``, ``median``; ``weighted`` = sum(w_i r_i) / sum(w_i);
    ``mean_minus_std`` = mean - penalty * population std. All are invariant
    to the order of the members.
    """
    scores = list(values.values())
    if aggregate == "mean":
        return finite_sum(scores) / len(scores)
    if aggregate == "min":
        return min(scores)
    if aggregate == "median":
        return statistics.median(scores)
    if aggregate == "weighted":
        assert weights is not None
        return finite_sum(weights[name] * value for name, value in values.items()) / finite_sum(
            weights[name] for name in values
        )
    if aggregate == "mean_minus_std":
        return finite_sum(scores) / len(scores) - penalty * population_std(scores)
    raise ValueError(f"unknown ensemble aggregate {aggregate!r}")


# ---------------------------------------------------------------- combination


def finite_sum(values) -> float:
    """``math.fsum``, except that an intermediate overflow gives the plain sum (inf or nan)
    instead of raising: a non-finite result is then refused as a value by its caller (the
    combination's check makes it the item error ``reward_computation``), never a 500."""
    values = list(values)
    try:
        return math.fsum(values)
    except OverflowError:
        return sum(values)


def combine_terms(terms: Mapping[str, float], how: str) -> float:
    """``sum``, ``product`` or ``min`` of the weighted terms ``w_c * v_c``."""
    if not terms:
        raise ValueError("no weighted component to combine")
    if how == "weighted_sum":
        return finite_sum(terms.values())
    if how == "product":
        return math.prod(terms.values())
    if how == "min":
        return min(terms.values())
    raise ValueError(f"unknown combine type {how!r}")


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Condition:
    """``COMPONENT OP NUMBER``, parsed once at start-up."""

    component: str
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = CONDITION.match(text)
        if match is None:
            raise ValueError(f"condition {text!r} must read 'COMPONENT OP NUMBER'")
        name, op, number = match.groups()
        return cls(name, op, float(number))

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.component} {self.op} {self.threshold:g}"


def overlong_penalty(length: int, max_length: int, cache_length: int) -> float:
    """DAPO: 0 up to ``max - cache``, linear down to -1 at ``max``, -1 beyond."""
    soft_start = max_length - cache_length
    if length <= soft_start:
        return 0.0
    if length > max_length:
        return -1.0
    return (soft_start - length) / cache_length


def linear_length_penalty(length: int, target: int) -> float:
    """``-max(0, L - target) / target``: 0 within the target, -1 at twice it."""
    return -max(0, length - target) / target


# ---------------------------------------------------------------- process rewards


def split_steps(text: str, split: DelimiterSplit | TagSplit) -> list[str]:
    """The distinct steps of ``text``: non-blank pieces between delimiters, or tag bodies.

    Pieces are stripped; blank ones (nothing visible: white space, zero-width or
    other invisible characters) are dropped, so trailing delimiters, blank lines
    and invisible padding never make steps; a piece that repeats an earlier one
    (the same visible text, ignoring case and white space) is dropped, so a
    repeated step is scored once. Linear in ``text``.
    """
    if isinstance(split, DelimiterSplit):
        pieces = text.split(split.delimiter)
    else:
        pieces = _tag_bodies(text, split.tag)
    steps, seen = [], set()
    for piece in pieces:
        key = "".join(visible_text(piece).split()).casefold()
        if key and key not in seen:
            seen.add(key)
            steps.append(piece.strip())
    return steps


def _tag_bodies(text: str, tag: str) -> list[str]:
    """Bodies of ``<tag>…</tag>``, each closed by the first closing tag after it; an opening
    tag inside a body is part of it. One pass with ``str.find`` (a lazy regex took
    quadratic time on thousands of unclosed tags)."""
    opening, closing = f"<{tag}>", f"</{tag}>"
    bodies, position = [], 0
    while (start := text.find(opening, position)) >= 0:
        end = text.find(closing, start + len(opening))
        if end < 0:
            break
        bodies.append(text[start + len(opening) : end])
        position = end + len(closing)
    return bodies


def aggregate_steps(scores: Sequence[float], how: str, threshold: float = 1.0) -> float:
    """One value from per-step scores, never raised by an added step:

    ``min``; ``last``; ``product`` of the scores clipped to [0, 1] (factors at
    most 1, so another step cannot raise it); ``clipped_sum``:
    ``sum(min(s - threshold, 0))`` (Gao et al.'s clip mechanism: every term is
    at most 0).
    """
    if not scores:
        raise ValueError("no steps to aggregate")
    if how == "min":
        return min(scores)
    if how == "last":
        return scores[-1]
    if how == "product":
        return math.prod(min(max(s, 0.0), 1.0) for s in scores)
    if how == "clipped_sum":
        return finite_sum(min(s - threshold, 0.0) for s in scores)
    raise ValueError(f"unknown step aggregate {how!r}")


def step_deltas(scores: Sequence[float]) -> list[float]:
    """Delta rewards: ``d_k = s_k - s_{k+1}`` and ``d_K = s_K``.

    The return from step k onwards telescopes to ``s_k``, so adding steps
    cannot inflate it (Gao et al., "On Designing Effective RL Reward at
    Training Time for LLM Reasoning").
    """
    return [scores[k] - scores[k + 1] for k in range(len(scores) - 1)] + list(scores[-1:])
