"""The values the reward algebra computes over a request, per component and per item.

A component's *column* holds one entry per item: a :class:`Cell` (a value,
with its explanation node when explaining), the item's
:class:`~rewardgate.errors.ComponentError`, or :data:`MISSING` (an input of the
component failed; the failure is reported on that input). A failure is never
a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rewardgate.algebra.explain import ExplainNode, Tracer
from rewardgate.errors import ComponentError


class RewardComputationError(ComponentError):
    """The combination produced a non-finite reward (e.g. a product overflowed)."""

    error_type = "reward_computation"


@dataclass(slots=True)
class Cell:
    value: float
    node: ExplainNode | None = None


class Missing:
    """An input of this component failed; the failure is reported on that input."""


MISSING = Missing()
Entry = Cell | ComponentError | Missing
Column = list[Entry]


@dataclass
class StepDetail:
    rewards: list[float]
    deltas: list[float]


@dataclass
class ScoredItem:
    status: str
    reward: float | None
    components: dict[str, float] = field(default_factory=dict)
    errors: dict[str, ComponentError] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    steps: dict[str, StepDetail] = field(default_factory=dict)
    explanation: ExplainNode | None = None
    #: Components whose gate was closed, and the violated constraint (for metrics).
    gated: list[str] = field(default_factory=list)
    violated: str | None = None


def map_column(column: Column, function, label: str, describe, tracer: Tracer) -> Column:
    """``function`` applied to every value of ``column``; failures pass through unchanged.

    Each new cell is reported to ``tracer`` as ``label``, with ``describe(x, y)`` its formula.
    """
    out: Column = []
    for entry in column:
        if not isinstance(entry, Cell):
            out.append(entry)
            continue
        cell = Cell(function(entry.value))
        tracer.mapped(label, entry, cell, describe)
        out.append(cell)
    return out
