"""Stage 2 of an evaluation: what needs the first round's outcomes.

* **Routes** send each item to a sub-pipeline chosen by a metadata field or
  by a classifier model's top label; the sub-pipeline's reward becomes the
  route component's value.
* **Fallback judges** decide the items a rule did not: those it failed on or
  scored below ``fallback.below``.

Both run concurrently, and only for pipelines that have them.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from rewardgate.algebra.explain import Tracer
from rewardgate.errors import ComponentError, InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import Cell, Column, Entry, ScoredItem
from rewardgate.pipeline.gather import Gathered, SourceRequests, head_column
from rewardgate.pipeline.plan import ComponentPlan, Pipeline
from rewardgate.store.fanout import SourceOutcomes

#: Per route component: its raw column and the sub-pipeline's outcome per item (None: not routed).
Routed = dict[str, tuple[Column, list[ScoredItem | None]]]
#: Per rule component with a fallback judge: the judge's entry per undecided item index.
Fallbacks = dict[str, dict[int, Entry]]

Fetch = Callable[[SourceRequests], Awaitable[dict[str, SourceOutcomes]]]
SubEvaluate = Callable[[Pipeline, list[ScoringItem], list[str | None]], Awaitable[list[ScoredItem]]]


class Cascades:
    """Routes and fallbacks of one request: ``fetch`` runs source requests, ``evaluate``
    a sub-pipeline, ``pipelines`` the request's pipelines by name."""

    def __init__(self, pipelines: dict[str, Pipeline], fetch: Fetch, evaluate: SubEvaluate, tracer: Tracer):
        self.pipelines = pipelines
        self.fetch = fetch
        self.evaluate = evaluate
        self.tracer = tracer

    async def run(
        self, pipeline: Pipeline, items, groups, gathered: Gathered, outcomes: dict[str, SourceOutcomes]
    ) -> tuple[Routed, Fallbacks]:
        """Routes and fallbacks of a pipeline that has either (``pipeline.has_second_round``)."""
        return await asyncio.gather(
            self._routes(pipeline, items, groups, outcomes, gathered.classifiers),
            self._fallbacks(pipeline, items, gathered, outcomes),
        )

    # ------------------------------------------------------------ fallbacks

    async def _fallbacks(self, pipeline: Pipeline, items, gathered: Gathered, outcomes) -> Fallbacks:
        plans = [c for c in pipeline.components if c.fallback is not None]
        if not plans:
            return {}
        requests = SourceRequests()
        asked = {}
        for plan in plans:
            column, _ = head_column(plan, outcomes, gathered.leaves[plan.name].main)
            below = plan.spec.fallback.below
            undecided = [i for i, e in enumerate(column) if not isinstance(e, Cell) or e.value < below]
            if undecided:
                where = requests.add(plan.fallback, plan.view([items[i] for i in undecided]))
                asked[plan.name] = (undecided, where, column)
        judged = await self.fetch(requests)
        result: Fallbacks = {}
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
        self.tracer.fallback(plan, ruled, cell)
        return cell

    # ------------------------------------------------------------ routes

    async def _routes(self, pipeline: Pipeline, items, groups, outcomes, classifier_slices) -> Routed:
        routes = [c for c in pipeline.components if c.kind == "route"]
        jobs = []
        for plan in routes:
            targets = self._route_targets(plan, items, outcomes, classifier_slices.get(plan.name))
            by_target: dict[str, list[int]] = defaultdict(list)
            for index, target in enumerate(targets):
                if isinstance(target, str):
                    by_target[target].append(index)
            jobs.append((plan, targets, by_target))
        graded = {plan.name: plan.view(items) for plan, _, _ in jobs}
        sub_runs = [
            (plan.name, indices, self._sub(target, graded[plan.name], groups, indices))
            for plan, _, by_target in jobs
            for target, indices in by_target.items()
        ]
        finished = await asyncio.gather(*(run for *_, run in sub_runs))
        sub_results: dict[str, dict[int, ScoredItem]] = defaultdict(dict)
        for (name, indices, _), outs in zip(sub_runs, finished, strict=True):
            sub_results[name].update(zip(indices, outs, strict=True))
        routed: Routed = {}
        for plan, targets, _ in jobs:
            column: Column = []
            subs: list[ScoredItem | None] = []
            for index, target in enumerate(targets):
                if isinstance(target, ComponentError):
                    column.append(target)
                    subs.append(None)
                    continue
                out = sub_results[plan.name][index]
                subs.append(out)
                column.append(self._route_entry(plan, target, out))
            routed[plan.name] = (column, subs)
        return routed

    def _sub(self, target: str, items, groups, indices: list[int]):
        return self.evaluate(
            self.pipelines[target], [items[i] for i in indices], [groups[i] for i in indices]
        )

    @staticmethod
    def _route_targets(plan: ComponentPlan, items, outcomes, where) -> list[str | ComponentError]:
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

    def _route_entry(self, plan: ComponentPlan, target: str, out: ScoredItem) -> Entry:
        if out.reward is None:
            cause_name, cause = next(iter(out.errors.items()), ("reward", None))
            if cause is None:
                return InvalidComponentInput(f"{plan.name}: pipeline {target!r} gave no reward")
            return type(cause)(f"pipeline {target!r}, {cause_name}: {cause.message}")
        cell = Cell(out.reward)
        self.tracer.route(plan, target, out.explanation, cell)
        return cell
