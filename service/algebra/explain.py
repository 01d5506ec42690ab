"""Explanation trees: how a reward was computed, node by node.

Each node is one operation with its result, a human-readable formula with
the actual numbers, and the nodes it consumed. Built only when a request asks
for ``options.explain`` (formatting numbers is not free).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExplainNode:
    op: str
    value: float
    formula: str = ""
    name: str | None = None
    inputs: list[ExplainNode] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "op": self.op,
            "value": self.value,
            "formula": self.formula,
            "inputs": [node.to_dict() for node in self.inputs],
        }


def num(value: float) -> str:
    """Compact, round-trippable enough number formatting for formulas."""
    return f"{value:.6g}"
