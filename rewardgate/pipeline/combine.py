"""One item's reward from its component values (docs/reward-algebra.md).

Status first: a failed or missing required component makes the item an
error (no reward), an optional one makes it partial, unless what was decided
settles the item anyway: a gate closed by a component that has a value
replaces the failed components it gates, and a constraint violated by a
component that has a value sets the reward whatever failed elsewhere (so a
response cannot escape a format constraint by making another component
fail). Then gates, weighted terms, the combination (weighted sum, product or
min), the length penalty, and constraints (a violated one sets the reward).
A non-finite result is an error, never a value. Failures the response caused
arrive here as values already (rewardgate/pipeline/failures.py).
"""

from __future__ import annotations

import math
from dataclasses import replace

from rewardgate.algebra import functions as fn
from rewardgate.algebra.explain import NO_TRACE, Tracer
from rewardgate.algebra.spec import LinearLengthPenalty
from rewardgate.errors import ComponentError, InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import Cell, RewardComputationError, ScoredItem
from rewardgate.pipeline.plan import Pipeline
from rewardgate.sources.rule.format import measure

#: fn.combine_terms's reductions of the weighted terms, by combine type.
_REDUCTIONS = {"weighted_sum": fn.finite_sum, "product": math.prod, "min": min}


class ItemCombiner:
    """Combines each item's component cells into its scored item, reporting to ``tracer``."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def finish_all(self, pipeline: Pipeline, items, columns, weights) -> list[ScoredItem]:
        """:meth:`finish` for every item, in order (the same scored items).

        Most requests are the plain case: no explanation, gates, length penalty or
        constraints, and every component a value. Such an item is just its values and
        the combination of its weighted terms, so that case reads the pipeline once per
        request, not once per item (cached requests are mostly this loop); any other
        item takes :meth:`finish`.
        """
        if (
            self.tracer is not NO_TRACE
            or pipeline.gates
            or pipeline.constraints
            or pipeline.spec.length_penalty is not None
        ):
            return [self.finish(pipeline, index, item, columns, weights) for index, item in enumerate(items)]
        named = [(plan.name, columns[plan.name]) for plan in pipeline.components]
        # finish()'s terms when every component has a value: weights in their order, zeros left out.
        components = {name for name, _ in named}
        weighted = [(name, weight) for name, weight in weights.items() if weight != 0 and name in components]
        # fn.combine_terms without the dict of terms: the same reduction over the same order.
        reduce = _REDUCTIONS.get(pipeline.spec.combine.type) if weighted else None
        if len(named) == 1 and len(weighted) == 1 and reduce is not None:
            return self._finish_one(pipeline, items, columns, weights, named[0], weighted[0][1], reduce)
        finished = []
        for index, item in enumerate(items):
            values: dict[str, float] = {}
            for name, column in named:
                entry = column[index]
                if type(entry) is not Cell:
                    break
                values[name] = entry.value
            else:
                if reduce is not None:
                    reward = reduce([weight * values[name] for name, weight in weighted])
                    if math.isfinite(reward):
                        finished.append(ScoredItem("ok", reward, values))
                        continue
            finished.append(self.finish(pipeline, index, item, columns, weights))
        return finished

    def _finish_one(self, pipeline: Pipeline, items, columns, weights, named, weight, reduce):
        """finish_all's plain case for a pipeline of one weighted component (``exact`` and most
        rule pipelines): the reduction of one term is the term itself, except that ``math.fsum``
        (weighted_sum) turns -0.0 into 0.0, as adding 0.0 does."""
        name, column = named
        # fsum's -0.0 -> 0.0 (x + 0.0 is x otherwise); prod and min of one term are the term.
        zero = 0.0 if reduce is fn.finite_sum else -0.0
        isfinite = math.isfinite
        finished = []
        append = finished.append
        for index, entry in enumerate(column):
            if type(entry) is Cell:
                value = entry.value
                reward = weight * value + zero
                if isfinite(reward):
                    append(ScoredItem("ok", reward, {name: value}))
                    continue
            append(self.finish(pipeline, index, items[index], columns, weights))
        return finished

    def finish(self, pipeline: Pipeline, index: int, item: ScoringItem, columns, weights) -> ScoredItem:
        scored_item = ScoredItem(status="ok", reward=None)
        cells, missing = self._cells(pipeline, index, columns, scored_item)
        counted = cells
        if pipeline.gates:
            counted = self._gate(pipeline, cells)
            scored_item.gated = [name for name, cell in counted.items() if cell is not cells.get(name)]
            missing -= set(scored_item.gated)
        if missing:
            return self._decided(pipeline, cells, scored_item)
        terms = {name: w * counted[name].value for name, w in weights.items() if w != 0 and name in counted}
        if not terms:
            scored_item.errors.setdefault(
                "reward", InvalidComponentInput("no weighted component has a value")
            )
            return replace(scored_item, status="error")
        combine_type = pipeline.spec.combine.type
        reward = fn.combine_terms(terms, combine_type)
        node = self.tracer.combine(combine_type, terms, weights, counted, reward)
        if pipeline.spec.length_penalty is not None:
            reward, node = self._length_penalty(pipeline, item, reward, node)
        if pipeline.constraints:
            reward, node, scored_item.violated = self._constraints(pipeline, cells, reward, node)
        if not math.isfinite(reward):
            scored_item.errors["reward"] = RewardComputationError(f"combined reward is {reward}")
            return replace(scored_item, status="error")
        scored_item.reward = reward
        scored_item.explanation = node
        return scored_item

    def _decided(self, pipeline: Pipeline, cells: dict[str, Cell], scored_item: ScoredItem) -> ScoredItem:
        """A required component has no value: the reward a constraint decided without it, else
        an error. Constraints are read in order; one whose component has no value stops the
        search, since it might have held and its value would have come first."""
        for condition, value, label in pipeline.constraints:
            control = cells.get(condition.component)
            if control is None:
                break
            if condition.holds(control.value):
                scored_item.violated = label
                scored_item.reward = value
                scored_item.explanation = self.tracer.constraint(None, condition, control, value, label)
                return scored_item
        return replace(scored_item, status="error", reward=None)

    @staticmethod
    def _cells(
        pipeline: Pipeline, index: int, columns, scored_item: ScoredItem
    ) -> tuple[dict[str, Cell], set[str]]:
        """The item's component cells (values recorded in ``scored_item``, failures in its errors and
        status), and the required components that have no value."""
        cells: dict[str, Cell] = {}
        missing: set[str] = set()
        for plan in pipeline.components:
            entry = columns[plan.name][index]
            if isinstance(entry, Cell):
                cells[plan.name] = entry
                scored_item.components[plan.name] = entry.value
                continue
            if isinstance(entry, ComponentError):
                scored_item.errors[plan.name] = entry
            if plan.required:
                missing.add(plan.name)
            scored_item.status = "partial"
        return cells, missing

    def _gate(self, pipeline: Pipeline, cells: dict[str, Cell]) -> dict[str, Cell]:
        counted = dict(cells)
        for condition, gated, otherwise in pipeline.gates:
            control = cells.get(condition.component)
            if control is not None and condition.holds(control.value):
                continue
            for name in gated:
                # A closed gate replaces a failed component too, when the gate itself was decided.
                if name in counted or control is not None:
                    closed = Cell(otherwise)
                    self.tracer.gate(name, condition, control, counted.get(name), closed)
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
