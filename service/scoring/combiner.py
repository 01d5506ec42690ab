"""Turning component scores into one reward (combiner v1: weighted sum).

Status rules (never a silent zero):

* a *required* component failed -> ``status="error"``, ``reward=None``;
* only optional components failed -> ``status="partial"``, the reward is
  combined from the components that succeeded;
* otherwise ``status="ok"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import ComponentError


@dataclass(frozen=True)
class WeightedSum:
    """``reward = sum(weight[c] * score[c])`` over the components present."""

    weights: dict[str, float]

    def combine(self, values: dict[str, float]) -> float:
        return float(sum(self.weights.get(name, 0.0) * value for name, value in values.items()))


@dataclass(frozen=True)
class ItemVerdict:
    status: str
    reward: float | None


def decide(
    values: dict[str, float],
    errors: dict[str, ComponentError],
    required: set[str],
    combiner: WeightedSum,
) -> ItemVerdict:
    """Apply the status rules above to one item's component outcomes."""
    if any(name in required for name in errors):
        return ItemVerdict("error", None)
    reward = combiner.combine(values)
    return ItemVerdict("partial" if errors else "ok", reward)
