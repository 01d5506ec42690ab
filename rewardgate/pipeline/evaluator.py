"""Evaluates a resolved pipeline over a request's items (the reward algebra).

One evaluation runs four named stages, top-down in :meth:`Evaluator.evaluate`:

1. **gather** (rewardgate/pipeline/gather.py): what every model, rule and judge
   component needs (the items, their reference texts as responses, or their
   steps) merged into one request per source, run through the fan-out
   (cache, single-flight, batching) at once;
2. **cascades** (rewardgate/pipeline/cascades.py): routed sub-pipelines and
   fallback judges, which need the first round's outcomes;
3. **columns** (rewardgate/pipeline/transforms.py): each component's column over
   the items in dependency order (ensembles after their members), through its
   compiled transforms, which may need the whole column (group means,
   running statistics);
4. **combine** (rewardgate/pipeline/combine.py): per item, gates, weighted terms,
   combination, length penalty, constraints, and the ok/partial/error status.

Between 2 and 3, each leaf's failures that the failure policy scores (those the
response caused, any of an optional component: rewardgate/pipeline/failures.py)
become its failure value, before transforms, and stay listed in the item's errors.

Every value made is reported to the context's tracer (rewardgate/algebra/explain.py),
which builds the explanation when a request asks for one and does nothing
otherwise. Any other failure is never a number: it stays an error (its own)
or is missing (an input failed), and the item's status follows from which
components are required, unless a decided gate or constraint settles the item
first (combine.py). Formulas: docs/reward-algebra.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rewardgate.algebra.explain import NO_TRACE, Tracer
from rewardgate.algebra.running_stats import StatsStore
from rewardgate.errors import ComponentError
from rewardgate.groups.stats import GroupStats, NoGroupStats
from rewardgate.items import ScoringItem
from rewardgate.pipeline.cascades import Cascades, Fallbacks, Routed
from rewardgate.pipeline.columns import Column, ScoredItem, StepDetail
from rewardgate.pipeline.combine import ItemCombiner
from rewardgate.pipeline.failures import fail_closed
from rewardgate.pipeline.gather import Gathered, SourceRequests, gather, leaf_column
from rewardgate.pipeline.group_column import group_column, judged_pairs
from rewardgate.pipeline.plan import Pipeline
from rewardgate.pipeline.transforms import TransformRun, apply_transforms, ensemble_column
from rewardgate.sources.base import Spend
from rewardgate.store.fanout import Fanout, SourceOutcomes


@dataclass
class EvalContext:
    """What one request shares across (sub-)pipeline evaluations."""

    fanout: Fanout
    pipelines: dict[str, Pipeline]
    stats: StatsStore
    deadline: float
    use_cache: bool = True
    tracer: Tracer = NO_TRACE
    spent: Spend = field(default_factory=Spend)
    #: Failures of the caller's input score as failure values too (the compat routes).
    score_input_failures: bool = False
    #: The caller's tenant for cache entries and running statistics; None: shared by all callers.
    cache_scope: str | None = None
    stats_scope: str | None = None
    #: Where group components report their votes (monitoring); the default records nothing.
    group_stats: GroupStats = field(default_factory=NoGroupStats)
    #: Groups given up at their deadline: their group components fail with group_incomplete.
    incomplete_groups: frozenset[str] = frozenset()


@dataclass
class _Columns:
    """Per component: its value column, cache flags and step details."""

    values: dict[str, Column] = field(default_factory=dict)
    cached: dict[str, list[bool]] = field(default_factory=dict)
    steps: dict[str, list[StepDetail | None]] = field(default_factory=dict)
    #: Per component: the failures scored as its failure value, by item index (failures.py).
    failed: dict[str, dict[int, ComponentError]] = field(default_factory=dict)

    def annotate(self, scored_items: list[ScoredItem], optional: set[str]) -> None:
        """Each item's cached components (those with a value), scored failures and step details.

        Column by column: an item still gets its names in component order, as an item-by-item
        pass would give them, and a request without failures or steps pays nothing for them.
        """
        for name, flags in self.cached.items():
            for scored_item, flag in zip(scored_items, flags, strict=True):
                if flag and name in scored_item.components:
                    scored_item.cached.append(name)
        for name, failures in self.failed.items():
            for index, error in failures.items():
                scored_item = scored_items[index]
                scored_item.errors[name] = error
                scored_item.failed.append(name)
                if name in optional and scored_item.status == "ok":
                    scored_item.status = "partial"
        for name, per_item in self.steps.items():
            for scored_item, detail in zip(scored_items, per_item, strict=True):
                if detail is not None:
                    scored_item.steps[name] = detail


class Evaluator:
    def __init__(self, ctx: EvalContext) -> None:
        self.ctx = ctx
        self.combiner = ItemCombiner(ctx.tracer)

    async def evaluate(
        self,
        pipeline: Pipeline,
        items: list[ScoringItem],
        groups: list[str | None],
        weights: dict[str, float] | None = None,
    ) -> list[ScoredItem]:
        gathered = gather(pipeline, items, groups, self.ctx.incomplete_groups)
        outcomes = await self.fetch(gathered.requests)
        routed, fallbacks = {}, {}
        if pipeline.has_second_round:  # built per use: holding it would make a reference cycle
            cascades = Cascades(self.ctx.pipelines, self.fetch, self.evaluate, self.ctx.tracer)
            routed, fallbacks = await cascades.run(pipeline, items, groups, gathered, outcomes)
        columns = self.columns(pipeline, items, groups, gathered, outcomes, routed, fallbacks)
        return self.combine(pipeline, items, columns, routed, weights)

    async def fetch(self, requests: SourceRequests) -> dict[str, SourceOutcomes]:
        """Stage 1's second half (and the fallback judges'): every source request, at once."""
        if not requests.items:
            return {}
        ctx = self.ctx
        result = await ctx.fanout.run(requests.work(), ctx.deadline, ctx.use_cache, ctx.cache_scope)
        self.ctx.spent.add(result)
        return result.by_source

    def columns(
        self,
        pipeline: Pipeline,
        items: list[ScoringItem],
        groups,
        gathered: Gathered,
        outcomes: dict[str, SourceOutcomes],
        routed: Routed,
        fallbacks: Fallbacks,
    ) -> _Columns:
        """Stage 3: every component's column, in dependency order, transformed."""
        scope = "" if self.ctx.stats_scope is None else f"#tenant:{self.ctx.stats_scope}"
        run = TransformRun(self.ctx.stats, self.ctx.tracer, groups, scope)
        columns = _Columns()
        for plan in pipeline.components:
            reference = None
            if plan.source is not None:
                leaf = leaf_column(plan, gathered.leaves[plan.name], outcomes, self.ctx.tracer)
                raw, reference = leaf.values, leaf.reference
                columns.cached[plan.name] = leaf.cached
                if leaf.steps is not None:
                    columns.steps[plan.name] = leaf.steps
                for index, entry in fallbacks.get(plan.name, {}).items():
                    raw[index] = entry
                failed = fail_closed(plan, raw, self.ctx.tracer, self.ctx.score_input_failures)
                if failed:
                    columns.failed[plan.name] = failed
            elif plan.kind == "route":
                raw = routed[plan.name][0]
            elif plan.kind == "group":
                raw = group_column(
                    pipeline.name,
                    plan.name,
                    plan.spec.group,
                    plan.view(items),
                    groups,
                    self.ctx.incomplete_groups,
                    self.ctx.group_stats,
                    judged_pairs(gathered.tournaments.get(plan.name), outcomes),
                )
                self.ctx.tracer.leaf(plan, raw)
            else:
                raw = ensemble_column(plan, pipeline, columns.values, run)
            columns.values[plan.name] = apply_transforms(plan.transforms, raw, reference, run)
        return columns

    def combine(
        self, pipeline: Pipeline, items, columns: _Columns, routed: Routed, weights: dict[str, float] | None
    ) -> list[ScoredItem]:
        """Stage 4: each item scored from its cells, with its routed sub-components."""
        effective = {**pipeline.weights, **(weights or {})}
        results = self.combiner.finish_all(pipeline, items, columns.values, effective)
        columns.annotate(results, {c.name for c in pipeline.components if not c.required})
        # After annotate: an item's cached list names its own components, not the routed ones.
        for name, (_, sub_scored) in routed.items():
            for index, scored_item in enumerate(results):
                sub = sub_scored[index]
                if sub is not None:
                    scored_item.components.update({f"{name}.{k}": v for k, v in sub.components.items()})
        return results


__all__ = ["EvalContext", "Evaluator", "ScoredItem", "StepDetail"]
