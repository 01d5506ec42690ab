"""Explanations: how a reward was computed, node by node, recorded by a tracer.

The reward algebra (transforms, ensembles, cascades, the combiner) does its
arithmetic and reports each value it makes to a :class:`Tracer`. The base
tracer records nothing, so a request that does not ask for
``options.explain`` pays for no formatting. :class:`ExplainTracer` builds an
:class:`ExplainNode` per value: the operation, its result, a formula with the
actual numbers, and the nodes it consumed. Cell-level hooks attach the node
to the cell they are given; the reward-level hooks (``combine``,
``length_penalty``, ``constraint``) return the node that now stands for the
reward. Formula text lives here, never in the arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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


def _inputs(*cells) -> list[ExplainNode]:
    return [cell.node for cell in cells if cell is not None and cell.node is not None]


def _why(condition, control) -> str:
    return "missing" if control is None else f"{condition.component}={num(control.value)}"


class Tracer:
    """Receives every value the algebra makes; records nothing (the default).

    Arguments are the algebra's own objects: ``plan`` a component plan,
    cells :class:`~rewardgate.pipeline.columns.Cell` (``value`` and ``node``).
    """

    # -------------------------------------------------- per cell (annotate ``cell``)

    def leaf(self, plan, column) -> None:
        """A component's column as its source scored it (its cells, between errors)."""

    def steps(self, plan, cell, scores: list[float]) -> None:
        """A per-step component: its step scores aggregated into ``cell``."""

    def mapped(self, label: str, before, after, describe: Callable[[float, float], str]) -> None:
        """A transform mapped ``before`` to ``after``; ``describe(x, y)`` is its formula."""

    def relative(self, label: str, before, after, ref: float, ref_source: str) -> None:
        """``after`` = label(before - ref), the reference read from ``ref_source``."""

    def ensemble(self, plan, cell, members: dict[str, Any]) -> None:
        """An ensemble's value from its members' cells."""

    def fallback(self, plan, ruled, cell) -> None:
        """The fallback judge decided ``cell`` where the rule's entry ``ruled`` did not."""

    def failed(self, plan, error, cell) -> None:
        """``cell`` holds the component's failure value in place of ``error``."""

    def route(self, plan, target: str, explanation: ExplainNode | None, cell) -> None:
        """``cell`` is the reward of the sub-pipeline ``target`` the item was routed to."""

    def gate(self, name: str, condition, control, gated, closed) -> None:
        """A closed gate replaced ``gated`` (component ``name``) by ``closed``."""

    # -------------------------------------------------- the reward (return its node)

    def combine(self, combine_type: str, terms: dict, weights: dict, counted: dict, reward: float):
        """The combination of the weighted terms; returns the reward's node."""
        return None

    def length_penalty(self, node, spec, reward: float, penalty: float, length: int, total: float):
        """``total`` = reward + coefficient * penalty; returns the reward's node."""
        return node

    def constraint(self, node, condition, control, value: float, label: str):
        """A violated constraint set the reward to ``value``; returns the reward's node."""
        return node


NO_TRACE = Tracer()


class ExplainTracer(Tracer):
    """Builds the explanation tree a response carries with ``options.explain``."""

    def leaf(self, plan, column) -> None:
        label = plan.describe()
        for entry in column:
            if hasattr(entry, "value"):  # a Cell; errors and MISSING carry no value
                entry.node = ExplainNode(label, entry.value, name=plan.name)

    def steps(self, plan, cell, scores: list[float]) -> None:
        spec = plan.spec.steps
        aggregate = spec.aggregate
        listed = ", ".join(num(s) for s in scores)
        extra = f", threshold={num(spec.threshold)}" if aggregate == "clipped_sum" else ""
        cell.node = ExplainNode(
            f"steps:{aggregate}",
            cell.value,
            f"{aggregate}({listed}{extra}) = {num(cell.value)} over the steps of {plan.describe()}",
            name=plan.name,
        )

    def mapped(self, label: str, before, after, describe) -> None:
        after.node = ExplainNode(
            label, after.value, describe(before.value, after.value), inputs=_inputs(before)
        )

    def relative(self, label: str, before, after, ref: float, ref_source: str) -> None:
        after.node = ExplainNode(
            label,
            after.value,
            f"{label}({num(before.value)} - r_ref {num(ref)} [{ref_source}]) = {num(after.value)}",
            inputs=_inputs(before),
        )

    def ensemble(self, plan, cell, members: dict[str, Any]) -> None:
        spec = plan.spec.ensemble
        shown = ", ".join(f"{m}={num(e.value)}" for m, e in members.items())
        extra = f", lambda={num(spec.penalty)}" if spec.aggregate == "mean_minus_std" else ""
        cell.node = ExplainNode(
            f"ensemble:{spec.aggregate}",
            cell.value,
            f"{spec.aggregate}({shown}{extra}) = {num(cell.value)}",
            plan.name,
            _inputs(*members.values()),
        )

    def fallback(self, plan, ruled, cell) -> None:
        if hasattr(ruled, "value"):
            why = f"{num(ruled.value)} < {num(plan.spec.fallback.below)}"
        else:
            why = f"failed: {getattr(ruled, 'error_type', 'missing')}"
        cell.node = ExplainNode(
            f"fallback:{plan.fallback.name}",
            cell.value,
            f"{plan.source.name} did not decide ({why}); {plan.fallback.name} = {num(cell.value)}",
            plan.name,
        )

    def failed(self, plan, error, cell) -> None:
        why = {"response": "the response caused it", "input": "the request's input caused it"}.get(
            error.cause, "an optional component"
        )
        cell.node = ExplainNode(
            f"failure:{error.error_type}",
            cell.value,
            f"{plan.describe()} failed ({error.error_type}; {why}): scored as its failure value "
            f"{num(cell.value)}",
            plan.name,
        )

    def route(self, plan, target: str, explanation: ExplainNode | None, cell) -> None:
        cell.node = ExplainNode(
            f"route:{target}",
            cell.value,
            f"routed to pipeline {target!r}",
            plan.name,
            [explanation] if explanation else [],
        )

    def gate(self, name: str, condition, control, gated, closed) -> None:
        closed.node = ExplainNode(
            "gate",
            closed.value,
            f"gate closed ({condition} fails: {_why(condition, control)}) -> {num(closed.value)}",
            name,
            _inputs(gated),
        )

    def combine(self, combine_type: str, terms: dict, weights: dict, counted: dict, reward: float):
        parts = [f"{num(weights[n])}*{n}({num(counted[n].value)})" for n in terms]
        joiner = {"weighted_sum": " + ", "product": " * ", "min": ", "}[combine_type]
        body = joiner.join(parts)
        formula = f"min({body})" if combine_type == "min" else body
        return ExplainNode(
            combine_type,
            reward,
            f"{formula} = {num(reward)}",
            "reward",
            _inputs(*(counted[n] for n in terms)),
        )

    def length_penalty(self, node, spec, reward: float, penalty: float, length: int, total: float):
        return ExplainNode(
            f"length_penalty:{spec.type}",
            total,
            f"{num(reward)} + {num(spec.coefficient)} * {num(penalty)} "
            f"(length {length} {spec.unit}) = {num(total)}",
            "reward",
            [node] if node else [],
        )

    def constraint(self, node, condition, control, value: float, label: str):
        return ExplainNode(
            "constraint",
            value,
            f"constraint {label} violated ({condition}: {_why(condition, control)}) -> {num(value)}",
            "reward",
            [node] if node else [],
        )


def tracer_for(explain: bool) -> Tracer:
    """The tracer a request gets: explanations only when it asked for them."""
    return ExplainTracer() if explain else NO_TRACE
