"""Evaluates a resolved pipeline over a request's items (the reward algebra).

One evaluation:

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
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace

from service.algebra import functions as fn
from service.algebra.explain import ExplainNode, num
from service.algebra.running_stats import StatsStore
from service.algebra.spec import (
    AffineTransform,
    ClipTransform,
    DelimiterSplit,
    LinearLengthPenalty,
    LogSigmoidTransform,
    ParTransform,
    StandardizeTransform,
    TanhTransform,
)
from service.errors import BackendError, ComponentError, InvalidComponentInput, InvalidReference
from service.items import ScoringItem
from service.rules.format import measure
from service.scoring.fanout import Fanout, SourceOutcomes
from service.scoring.plan import ComponentPlan, Pipeline
from service.scoring.sources import ScoreSource, Spend


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
class ItemOutcome:
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
                raw = self._ensemble_column(plan, pipeline, columns.values)
            columns.values[plan.name] = self._transform(plan, raw, ref_column, groups)

        effective = {**pipeline.weights, **(weights or {})}
        results = []
        for index in range(len(items)):
            outcome = self._finish(pipeline, index, items[index], columns.values, effective)
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
                    needs.step_slices.append(requests.add(plan.source, _step_items(item, steps, spec.steps)))
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
            column, cached, columns.steps[plan.name] = self._steps_column(plan, needs, outcomes)
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

    def _steps_column(self, plan: ComponentPlan, needs: _LeafNeeds, outcomes):
        spec = plan.spec.steps
        whole = plan.scores_steps_at_once
        column: Column = []
        cached: list[bool] = []
        details: list[StepDetail | None] = []
        head = None if whole else plan.head_index()
        for steps, where in zip(needs.steps, needs.step_slices, strict=True):
            if where is None:
                column.append(InvalidComponentInput(f"{plan.name}: the response has no steps to score"))
                cached.append(False)
                details.append(None)
                continue
            name, start, stop = where
            source = outcomes[name]
            got = source.outcomes[start:stop]
            cached.append(all(source.cached[start:stop]))
            error = next((o for o in got if isinstance(o, ComponentError)), None)
            scores = None if error else (list(got[0]) if whole else [o[head] for o in got])
            if scores is not None and len(scores) != len(steps):
                error = BackendError(f"{plan.name}: {len(scores)} step scores for {len(steps)} steps")
            if error is not None:
                column.append(error)
                details.append(None)
                continue
            value = fn.aggregate_steps(scores, spec.aggregate)
            details.append(StepDetail(scores, fn.step_deltas(scores)))
            column.append(Cell(value))
            if self.ctx.explain:
                listed = ", ".join(num(s) for s in scores)
                column[-1].node = ExplainNode(
                    f"steps:{spec.aggregate}",
                    value,
                    f"{spec.aggregate}({listed}) = {num(value)} over the steps of {plan.describe()}",
                    name=plan.name,
                )
        return column, cached, details

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

    # ------------------------------------------------------------ ensembles

    def _ensemble_column(self, plan: ComponentPlan, pipeline: Pipeline, columns: dict[str, Column]) -> Column:
        spec = plan.spec.ensemble
        members = {m: columns[m] for m in spec.members}
        if spec.standardize:
            members = {
                m: self._standardize(
                    col, f"{pipeline.component(m).stats_key}/member", 1e-6, label=f"standardize {m}"
                )
                for m, col in members.items()
            }
        column: Column = []
        for index in range(len(next(iter(members.values())))):
            entries = {m: col[index] for m, col in members.items()}
            if not all(isinstance(e, Cell) for e in entries.values()):
                column.append(MISSING)
                continue
            values = {m: e.value for m, e in entries.items()}
            value = fn.ensemble(values, spec.aggregate, spec.weights, spec.penalty)
            cell = Cell(value)
            if self.ctx.explain:
                shown = ", ".join(f"{m}={num(v)}" for m, v in values.items())
                extra = f", lambda={num(spec.penalty)}" if spec.aggregate == "mean_minus_std" else ""
                cell.node = ExplainNode(
                    f"ensemble:{spec.aggregate}",
                    value,
                    f"{spec.aggregate}({shown}{extra}) = {num(value)}",
                    plan.name,
                    [e.node for e in entries.values() if e.node],
                )
            column.append(cell)
        return column

    # ------------------------------------------------------------ transforms

    def _transform(self, plan: ComponentPlan, column: Column, ref_column: Column | None, groups) -> Column:
        for index, transform in enumerate(plan.spec.transform):
            if isinstance(transform, StandardizeTransform):
                key = f"{plan.stats_key}/t{index}"
                column = self._standardize(column, key, transform.min_std)
                if ref_column is not None:
                    ref_column = self._standardize(ref_column, key, transform.min_std, update=False)
            elif isinstance(transform, LogSigmoidTransform | ParTransform):
                refs = self._refs(transform.ref, column, ref_column, groups)
                column = self._relative(transform, column, refs)
                if ref_column is not None and not isinstance(transform.ref, str):
                    ref_column = self._relative(transform, ref_column, refs)
            else:
                column = self._pointwise(transform, column)
                if ref_column is not None:
                    ref_column = self._pointwise(transform, ref_column)
        return column

    def _standardize(
        self, column: Column, key: str, min_std: float, *, update: bool = True, label="standardize"
    ):
        stats = self.ctx.stats.get(key)
        if update:
            for entry in column:
                if isinstance(entry, Cell):
                    stats.update(entry.value)
        mean, std = stats.mean, max(stats.std, min_std)

        def formula(x: float, y: float) -> str:
            return f"({num(x)} - {num(mean)}) / {num(std)} = {num(y)} (running, n={stats.count})"

        return self._map(column, lambda x: (x - mean) / std, label, formula)

    def _pointwise(self, transform, column: Column) -> Column:
        if isinstance(transform, AffineTransform):
            scale, shift = transform.scale, transform.shift
            return self._map(
                column,
                lambda x: scale * x + shift,
                "affine",
                lambda x, y: f"{num(scale)} * {num(x)} + {num(shift)} = {num(y)}",
            )
        if isinstance(transform, ClipTransform):
            low, high = transform.min, transform.max
            return self._map(
                column,
                lambda x: fn.clip(x, low, high),
                "clip",
                lambda x, y: f"clip({num(x)}, {low}, {high}) = {num(y)}",
            )
        if isinstance(transform, TanhTransform):
            scale = transform.scale
            return self._map(
                column,
                lambda x: math.tanh(scale * x),
                "tanh",
                lambda x, y: f"tanh({num(scale)} * {num(x)}) = {num(y)}",
            )
        raise TypeError(f"unhandled transform {transform!r}")

    def _refs(self, ref, column: Column, ref_column: Column | None, groups) -> list[float | ComponentError]:
        if ref == "reference":
            return [
                e.value
                if isinstance(e, Cell)
                else (
                    e
                    if isinstance(e, ComponentError)
                    else InvalidReference("the reference's score is missing")
                )
                for e in ref_column
            ]
        if ref == "group_mean":
            members: dict[str, list[float]] = defaultdict(list)
            for group, entry in zip(groups, column, strict=True):
                if group is not None and isinstance(entry, Cell):
                    members[group].append(entry.value)
            return [
                math.fsum(members[g]) / len(members[g])
                if g is not None and members.get(g)
                else InvalidComponentInput("group_mean needs items[].group")
                for g in groups
            ]
        return [float(ref)] * len(column)

    def _relative(self, transform, column: Column, refs) -> Column:
        function = fn.log_sigmoid if isinstance(transform, LogSigmoidTransform) else fn.sigmoid
        label = "log_sigmoid" if isinstance(transform, LogSigmoidTransform) else "par"
        source = transform.ref if isinstance(transform.ref, str) else "fixed"
        out: Column = []
        for entry, ref in zip(column, refs, strict=True):
            if not isinstance(entry, Cell):
                out.append(entry)
            elif isinstance(ref, ComponentError):
                out.append(ref)
            else:
                value = function(entry.value - ref)
                cell = Cell(value)
                if self.ctx.explain:
                    cell.node = ExplainNode(
                        label,
                        value,
                        f"{label}({num(entry.value)} - r_ref {num(ref)} [{source}]) = {num(value)}",
                        inputs=[entry.node] if entry.node else [],
                    )
                out.append(cell)
        return out

    def _map(self, column: Column, function, label: str, formula) -> Column:
        out: Column = []
        explain = self.ctx.explain
        for entry in column:
            if not isinstance(entry, Cell):
                out.append(entry)
                continue
            value = function(entry.value)
            cell = Cell(value)
            if explain:
                cell.node = ExplainNode(
                    label, value, formula(entry.value, value), inputs=[entry.node] if entry.node else []
                )
            out.append(cell)
        return out

    # ------------------------------------------------------------ per item

    def _finish(self, pipeline: Pipeline, index: int, item: ScoringItem, columns, weights) -> ItemOutcome:
        outcome = ItemOutcome(status="ok", reward=None)
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
        if missing:
            return replace(outcome, status="error", reward=None)
        counted = self._gate(pipeline, cells)
        outcome.gated = [name for name, cell in counted.items() if cell is not cells[name]]
        terms = {name: w * counted[name].value for name, w in weights.items() if w != 0 and name in counted}
        if not terms:
            outcome.errors.setdefault("reward", InvalidComponentInput("no weighted component has a value"))
            return replace(outcome, status="error")
        combine_type = pipeline.spec.combine.type
        reward = fn.combine_terms(terms, combine_type)
        node = self._combine_node(combine_type, terms, weights, counted, reward) if self.ctx.explain else None
        reward, node = self._length_penalty(pipeline, item, reward, node)
        reward, node, outcome.violated = self._constraints(pipeline, cells, reward, node)
        if not math.isfinite(reward):
            outcome.errors["reward"] = RewardComputationError(f"combined reward is {reward}")
            return replace(outcome, status="error")
        outcome.reward = reward
        outcome.explanation = node
        return outcome

    def _gate(self, pipeline: Pipeline, cells: dict[str, Cell]) -> dict[str, Cell]:
        counted = dict(cells)
        for condition, gated, otherwise in pipeline.gates:
            control = cells.get(condition.component)
            if control is not None and condition.holds(control.value):
                continue
            for name in gated:
                if name in counted:
                    node = None
                    if self.ctx.explain:
                        why = "missing" if control is None else f"{condition.component}={num(control.value)}"
                        node = ExplainNode(
                            "gate",
                            otherwise,
                            f"gate closed ({condition} fails: {why}) -> {num(otherwise)}",
                            name,
                            [counted[name].node] if counted[name].node else [],
                        )
                    counted[name] = Cell(otherwise, node)
        return counted

    @staticmethod
    def _combine_node(combine_type, terms, weights, counted, reward) -> ExplainNode:
        parts = [f"{num(weights[n])}*{n}({num(counted[n].value)})" for n in terms]
        joiner = {"weighted_sum": " + ", "product": " * ", "min": ", "}[combine_type]
        body = joiner.join(parts)
        formula = f"min({body})" if combine_type == "min" else body
        return ExplainNode(
            combine_type,
            reward,
            f"{formula} = {num(reward)}",
            "reward",
            [counted[n].node for n in terms if counted[n].node],
        )

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
        if node is not None:
            node = ExplainNode(
                f"length_penalty:{spec.type}",
                total,
                f"{num(reward)} + {num(spec.coefficient)} * {num(penalty)} "
                f"(length {length} {spec.unit}) = {num(total)}",
                "reward",
                [node],
            )
        return total, node

    def _constraints(self, pipeline: Pipeline, cells: dict[str, Cell], reward: float, node):
        for condition, value, label in pipeline.constraints:
            control = cells.get(condition.component)
            if control is None or condition.holds(control.value):
                if node is not None:
                    why = "missing" if control is None else f"{condition.component}={num(control.value)}"
                    node = ExplainNode(
                        "constraint",
                        value,
                        f"constraint {label} violated ({condition}: {why}) -> {num(value)}",
                        "reward",
                        [node],
                    )
                return value, node, label
        return reward, node, None


def _step_items(item: ScoringItem, steps: list[str], spec) -> list[ScoringItem]:
    """One item per step: the step alone, or the response up to and including it."""
    if spec.context == "step":
        return [replace(item, response=step) for step in steps]
    if isinstance(spec.split, DelimiterSplit):
        joined = [spec.split.delimiter.join(steps[: k + 1]) for k in range(len(steps))]
    else:
        tag = spec.split.tag
        joined = ["".join(f"<{tag}>{s}</{tag}>" for s in steps[: k + 1]) for k in range(len(steps))]
    return [replace(item, response=text) for text in joined]


__all__ = ["EvalContext", "Evaluator", "ItemOutcome", "StepDetail"]
