"""Evaluates a resolved pipeline over a request's items (the reward algebra).

One evaluation:

Stages 3 and 4 live in their own modules: service/scoring/transforms.py
(a column's transforms), service/scoring/combine.py (an item's reward),
service/scoring/steps.py (per-step components); the values they pass around
are in service/scoring/columns.py.

1. gathers what every model and rule component needs (the items, their
   reference texts as responses, or their steps) into one request per source
   and runs them through the fan-out (cache, single-flight, batching) at once;
2. evaluates routed sub-pipelines on the items routed to them, concurrently;
3. builds each component's column over the items in dependency order
   (ensembles after their members) and applies its transforms, which may need
   the whole column (group means, running statistics);
4. per item: gates, weighted terms, combination, length penalty, constraints,
   and the ok/partial/error status rules.

A failed component is never a number: it stays an error (its own) or is
missing (an input failed), and the item's status follows from which
components are required. Formulas: docs/reward-algebra.md.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field, replace

from service.algebra import functions as fn
from service.algebra.explain import ExplainNode, num
from service.algebra.running_stats import StatsStore
from service.errors import ComponentError, InvalidComponentInput, InvalidReference
from service.items import ScoringItem
from service.scoring.columns import Cell, Column, Entry, ItemOutcome, StepDetail
from service.scoring.combine import ItemCombiner
from service.scoring.fanout import Fanout, SourceOutcomes
from service.scoring.plan import ComponentPlan, Pipeline
from service.scoring.sources import ScoreSource, Spend
from service.scoring.steps import step_items, steps_column
from service.scoring.transforms import ColumnTransforms


@dataclass
class EvalContext:
    """What one request shares across (sub-)pipeline evaluations."""

    fanout: Fanout
    pipelines: dict[str, Pipeline]
    stats: StatsStore
    deadline: float
    use_cache: bool = True
    explain: bool = False
    spent: Spend = field(default_factory=Spend)


@dataclass
class _Requests:
    """Items per source, merged so each source sees one request."""

    items: dict[str, list[ScoringItem]] = field(default_factory=dict)
    sources: dict[str, ScoreSource] = field(default_factory=dict)

    def add(self, source: ScoreSource, items: list[ScoringItem]) -> tuple[str, int, int]:
        bucket = self.items.setdefault(source.name, [])
        self.sources[source.name] = source
        start = len(bucket)
        bucket.extend(items)
        return source.name, start, len(bucket)


@dataclass
class _LeafNeeds:
    main: tuple[str, int, int] | None = None
    reference: tuple[str, int, int] | None = None
    has_reference: list[bool] = field(default_factory=list)
    steps: list[list[str]] | None = None  # per item
    step_slices: list[tuple[str, int, int] | None] | None = None


@dataclass
class _Columns:
    """Per component: its value column, cache flags and step details."""

    values: dict[str, Column] = field(default_factory=dict)
    cached: dict[str, list[bool]] = field(default_factory=dict)
    steps: dict[str, list[StepDetail | None]] = field(default_factory=dict)

    def annotate(self, outcome: ItemOutcome, index: int) -> None:
        outcome.cached = [n for n, flags in self.cached.items() if flags[index] and n in outcome.components]
        for name, per_item in self.steps.items():
            if per_item[index] is not None:
                outcome.steps[name] = per_item[index]


class Evaluator:
    def __init__(self, ctx: EvalContext) -> None:
        self.ctx = ctx
        self.transforms = ColumnTransforms(ctx.stats, ctx.explain)
        self.combiner = ItemCombiner(ctx.explain)

    async def evaluate(
        self,
        pipeline: Pipeline,
        items: list[ScoringItem],
        groups: list[str | None],
        weights: dict[str, float] | None = None,
    ) -> list[ItemOutcome]:
        requests = _Requests()
        main_slices: dict[str, tuple[str, int, int]] = {}

        def main_slice(source: ScoreSource) -> tuple[str, int, int]:
            if source.name not in main_slices:
                main_slices[source.name] = requests.add(source, items)
            return main_slices[source.name]

        needs = {
            c.name: self._plan_leaf(c, items, requests, main_slice) for c in pipeline.components if c.source
        }
        classifier = {c.name: main_slice(c.classifier) for c in pipeline.components if c.classifier}
        outcomes = await self._fetch(requests)

        routed, fallbacks = await self._second_round(pipeline, items, groups, needs, outcomes, classifier)
        columns = _Columns()
        for plan in pipeline.components:
            ref_column = None
            if plan.source is not None:
                raw, ref_column = self._leaf_column(plan, needs[plan.name], outcomes, columns)
                for index, entry in fallbacks.get(plan.name, {}).items():
                    raw[index] = entry
            elif plan.kind == "route":
                raw = routed[plan.name][0]
            else:
                raw = self.transforms.ensemble(plan, pipeline, columns.values)
            columns.values[plan.name] = self.transforms.apply(plan, raw, ref_column, groups)

        effective = {**pipeline.weights, **(weights or {})}
        results = []
        for index in range(len(items)):
            outcome = self.combiner.finish(pipeline, index, items[index], columns.values, effective)
            columns.annotate(outcome, index)
            for name, (_, sub_outcomes) in routed.items():
                sub = sub_outcomes[index]
                if sub is not None:
                    outcome.components.update({f"{name}.{k}": v for k, v in sub.components.items()})
            results.append(outcome)
        return results

    # ------------------------------------------------------------ leaves

    def _plan_leaf(self, plan: ComponentPlan, items, requests: _Requests, main_slice) -> _LeafNeeds:
        needs = _LeafNeeds()
        spec = plan.spec
        if spec.steps is None:
            needs.main = main_slice(plan.source)
        else:
            needs.steps = [fn.split_steps(item.response, spec.steps.split) for item in items]
            needs.step_slices = []
            whole = plan.scores_steps_at_once
            for item, steps in zip(items, needs.steps, strict=True):
                if not steps:
                    needs.step_slices.append(None)
                elif whole:
                    needs.step_slices.append(
                        requests.add(plan.source, [replace(item, response="", steps=tuple(steps))])
                    )
                else:
                    needs.step_slices.append(requests.add(plan.source, step_items(item, steps, spec.steps)))
        if any(getattr(t, "ref", None) == "reference" for t in spec.transform):
            needs.has_reference = [item.reference is not None for item in items]
            as_responses = [
                replace(item, response=item.reference) for item in items if item.reference is not None
            ]
            needs.reference = requests.add(plan.source, as_responses)
        return needs

    async def _fetch(self, requests: _Requests) -> dict[str, SourceOutcomes]:
        if not requests.items:
            return {}
        work = [(requests.sources[name], items) for name, items in requests.items.items()]
        result = await self.ctx.fanout.run(work, self.ctx.deadline, self.ctx.use_cache)
        self.ctx.spent.add(result)
        return result.by_source

    def _leaf_column(
        self, plan: ComponentPlan, needs: _LeafNeeds, outcomes: dict[str, SourceOutcomes], columns: _Columns
    ) -> tuple[Column, Column | None]:
        explain = self.ctx.explain
        if needs.main is not None:
            column, cached = self._head_column(plan, outcomes, needs.main)
        else:
            column, cached, columns.steps[plan.name] = steps_column(
                plan, needs.steps, needs.step_slices, outcomes, self.ctx.explain
            )
        columns.cached[plan.name] = cached
        ref_column = None
        if needs.reference is not None:
            ref_values, _ = self._head_column(plan, outcomes, needs.reference)
            found = iter(ref_values)
            ref_column = [
                next(found) if has else InvalidReference(f"{plan.name}: transform needs items[].reference")
                for has in needs.has_reference
            ]
        if explain:
            for entry in column:
                if isinstance(entry, Cell):
                    entry.node = ExplainNode(plan.describe(), entry.value, name=plan.name)
        return column, ref_column

    def _head_column(self, plan: ComponentPlan, outcomes, where) -> tuple[Column, list[bool]]:
        name, start, stop = where
        source = outcomes[name]
        index = plan.head_index()
        column: Column = [
            outcome if isinstance(outcome, ComponentError) else Cell(outcome[index])
            for outcome in source.outcomes[start:stop]
        ]
        return column, source.cached[start:stop]

    async def _second_round(self, pipeline: Pipeline, items, groups, needs, outcomes, classifier):
        """Routes and fallback judges, which need the first round's outcomes (concurrently)."""
        if not pipeline.has_second_round:
            return {}, {}  # the common case: no tasks to create
        return await asyncio.gather(
            self._routes(pipeline, items, groups, outcomes, classifier),
            self._fallbacks(pipeline, items, needs, outcomes),
        )

    # ------------------------------------------------------------ cascades

    async def _fallbacks(self, pipeline: Pipeline, items, needs, outcomes) -> dict[str, dict[int, Entry]]:
        """Per rule component with a fallback judge: the judge's entry for each item the rule
        did not decide (it failed, or its value is below ``fallback.below``)."""
        plans = [c for c in pipeline.components if c.fallback is not None]
        if not plans:
            return {}
        requests = _Requests()
        asked: dict[str, tuple[list[int], tuple[str, int, int], Column]] = {}
        for plan in plans:
            column, _ = self._head_column(plan, outcomes, needs[plan.name].main)
            below = plan.spec.fallback.below
            undecided = [i for i, e in enumerate(column) if not isinstance(e, Cell) or e.value < below]
            if undecided:
                where = requests.add(plan.fallback, [items[i] for i in undecided])
                asked[plan.name] = (undecided, where, column)
        judged = await self._fetch(requests)
        result: dict[str, dict[int, Entry]] = {}
        for plan in plans:
            if plan.name not in asked:
                continue
            undecided, (name, start, stop), column = asked[plan.name]
            answers = judged[name].outcomes[start:stop]
            result[plan.name] = {
                index: self._fallback_entry(plan, column[index], answer)
                for index, answer in zip(undecided, answers, strict=True)
            }
        return result

    def _fallback_entry(self, plan: ComponentPlan, ruled: Entry, answer) -> Entry:
        if isinstance(answer, ComponentError):
            return answer
        cell = Cell(answer[0])
        if self.ctx.explain:
            why = (
                f"{num(ruled.value)} < {num(plan.spec.fallback.below)}"
                if isinstance(ruled, Cell)
                else (f"failed: {getattr(ruled, 'error_type', 'missing')}")
            )
            cell.node = ExplainNode(
                f"fallback:{plan.fallback.name}",
                cell.value,
                f"{plan.source.name} did not decide ({why}); {plan.fallback.name} = {num(cell.value)}",
                plan.name,
            )
        return cell

    # ------------------------------------------------------------ routes

    async def _routes(self, pipeline: Pipeline, items, groups, outcomes, classifier_slices):
        """Per route component: its raw column and the sub-pipeline outcome per item."""
        routes = [c for c in pipeline.components if c.kind == "route"]
        jobs = []
        for plan in routes:
            targets = self._route_targets(plan, items, outcomes, classifier_slices.get(plan.name))
            by_target: dict[str, list[int]] = defaultdict(list)
            for index, target in enumerate(targets):
                if isinstance(target, str):
                    by_target[target].append(index)
            jobs.append((plan, targets, by_target))
        sub_runs = [
            (plan.name, target, indices, self._sub(target, items, groups, indices))
            for plan, _, by_target in jobs
            for target, indices in by_target.items()
        ]
        finished = await asyncio.gather(*(run for *_, run in sub_runs))
        sub_results: dict[str, dict[int, tuple[str, ItemOutcome]]] = defaultdict(dict)
        for (name, target, indices, _), outs in zip(sub_runs, finished, strict=True):
            for index, out in zip(indices, outs, strict=True):
                sub_results[name][index] = (target, out)
        routed = {}
        for plan, targets, _ in jobs:
            column: Column = []
            subs: list[ItemOutcome | None] = []
            for index, target in enumerate(targets):
                if isinstance(target, ComponentError):
                    column.append(target)
                    subs.append(None)
                    continue
                _, out = sub_results[plan.name][index]
                subs.append(out)
                column.append(self._route_entry(plan, target, out))
            routed[plan.name] = (column, subs)
        return routed

    def _sub(self, target: str, items, groups, indices: list[int]):
        return self.evaluate(
            self.ctx.pipelines[target], [items[i] for i in indices], [groups[i] for i in indices]
        )

    def _route_targets(self, plan: ComponentPlan, items, outcomes, where) -> list[str | ComponentError]:
        route = plan.spec.route
        if route.field is not None:
            keys: list[str | ComponentError | None] = [
                None if item.metadata.get(route.field) is None else str(item.metadata[route.field])
                for item in items
            ]
        else:
            name, start, stop = where
            labels = plan.classifier.head_names
            keys = [
                outcome
                if isinstance(outcome, ComponentError)
                else labels[max(range(len(outcome)), key=outcome.__getitem__)]
                for outcome in outcomes[name].outcomes[start:stop]
            ]
        targets: list[str | ComponentError] = []
        for key in keys:
            if isinstance(key, ComponentError):
                targets.append(key)
            elif key in route.pipelines:
                targets.append(route.pipelines[key])
            elif route.default is not None:
                targets.append(route.default)
            else:
                selector = f"metadata.{route.field}" if route.field else f"classifier {route.classifier}"
                targets.append(InvalidComponentInput(f"{plan.name}: no route for {selector} = {key!r}"))
        return targets

    def _route_entry(self, plan: ComponentPlan, target: str, out: ItemOutcome) -> Entry:
        if out.reward is None:
            cause_name, cause = next(iter(out.errors.items()), ("reward", None))
            if cause is None:
                return InvalidComponentInput(f"{plan.name}: pipeline {target!r} gave no reward")
            return type(cause)(f"pipeline {target!r}, {cause_name}: {cause.message}")
        cell = Cell(out.reward)
        if self.ctx.explain:
            cell.node = ExplainNode(
                f"route:{target}",
                out.reward,
                f"routed to pipeline {target!r}",
                plan.name,
                [out.explanation] if out.explanation else [],
            )
        return cell


__all__ = ["EvalContext", "Evaluator", "ItemOutcome", "StepDetail"]
