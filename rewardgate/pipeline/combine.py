"""One item's reward from its component values (docs/reward-algebra.md).

Status first: a failed or missing required component makes the item an
error (no reward), an optional one makes it partial. Then gates (a closed
gate replaces the gated values), weighted terms, the combination
(weighted sum, product or min), the length penalty, and constraints (a
violated one sets the reward). A non-finite result is an error, never a value.
"""

from __future__ import annotations

import math
from dataclasses import replace

from rewardgate.algebra import functions as fn
from rewardgate.algebra.explain import Tracer
from rewardgate.algebra.spec import LinearLengthPenalty
from rewardgate.errors import ComponentError, InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import Cell, RewardComputationError, ScoredItem
from rewardgate.pipeline.plan import Pipeline
from rewardgate.sources.rule.format import measure


class ItemCombiner:
    """Combines each item's component cells into its outcome, reporting to ``tracer``."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def finish(self, pipeline: Pipeline, index: int, item: ScoringItem, columns, weights) -> ScoredItem:
        outcome = ScoredItem(status="ok", reward=None)
        cells, missing = self._cells(pipeline, index, columns, outcome)
        if missing:
            return replace(outcome, status="error", reward=None)
        counted = cells
        if pipeline.gates:
            counted = self._gate(pipeline, cells)
            outcome.gated = [name for name, cell in counted.items() if cell is not cells[name]]
        terms = {name: w * counted[name].value for name, w in weights.items() if w != 0 and name in counted}
        if not terms:
            outcome.errors.setdefault("reward", InvalidComponentInput("no weighted component has a value"))
            return replace(outcome, status="error")
        combine_type = pipeline.spec.combine.type
        reward = fn.combine_terms(terms, combine_type)
        node = self.tracer.combine(combine_type, terms, weights, counted, reward)
        if pipeline.spec.length_penalty is not None:
            reward, node = self._length_penalty(pipeline, item, reward, node)
        if pipeline.constraints:
            reward, node, outcome.violated = self._constraints(pipeline, cells, reward, node)
        if not math.isfinite(reward):
            outcome.errors["reward"] = RewardComputationError(f"combined reward is {reward}")
            return replace(outcome, status="error")
        outcome.reward = reward
        outcome.explanation = node
        return outcome

    @staticmethod
    def _cells(pipeline: Pipeline, index: int, columns, outcome: ScoredItem) -> tuple[dict[str, Cell], bool]:
        """The item's component cells (values recorded in ``outcome``, failures in its errors and
        status), and whether a required component has no value."""
        cells: dict[str, Cell] = {}
        missing = False
        for plan in pipeline.components:
            entry = columns[plan.name][index]
            if isinstance(entry, Cell):
                cells[plan.name] = entry
                outcome.components[plan.name] = entry.value
                continue
            if isinstance(entry, ComponentError):
                outcome.errors[plan.name] = entry
            if plan.required:
                missing = True
            outcome.status = "partial"
        return cells, missing

    def _gate(self, pipeline: Pipeline, cells: dict[str, Cell]) -> dict[str, Cell]:
        counted = dict(cells)
        for condition, gated, otherwise in pipeline.gates:
            control = cells.get(condition.component)
            if control is not None and condition.holds(control.value):
                continue
            for name in gated:
                if name in counted:
                    closed = Cell(otherwise)
                    self.tracer.gate(name, condition, control, counted[name], closed)
                    counted[name] = closed
        return counted

    def _length_penalty(self, pipeline: Pipeline, item: ScoringItem, reward: float, node):
        spec = pipeline.spec.length_penalty
        if spec is None:
            return reward, node
        length = measure(item.response, spec.unit)
        if isinstance(spec, LinearLengthPenalty):
            penalty = fn.linear_length_penalty(length, spec.target)
        else:
            penalty = fn.overlong_penalty(length, spec.max_length, spec.cache_length)
        total = reward + spec.coefficient * penalty
        return total, self.tracer.length_penalty(node, spec, reward, penalty, length, total)

    def _constraints(self, pipeline: Pipeline, cells: dict[str, Cell], reward: float, node):
        for condition, value, label in pipeline.constraints:
            control = cells.get(condition.component)
            if control is None or condition.holds(control.value):
                return value, self.tracer.constraint(node, condition, control, value, label), label
        return reward, node, None
