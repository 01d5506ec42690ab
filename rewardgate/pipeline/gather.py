"""Stage 1 of an evaluation: what every source must score, and reading it back as columns.

A pipeline's leaves (model, rule and judge components), its route
classifiers and, for transforms relative to the reference, the items'
references scored as responses, all become slices of one request per
source: a source used by two components of a pipeline scores each item once.
After the fan-out has run the requests, :func:`leaf_column` reads a leaf's
slice back as its column.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rewardgate.algebra import functions as fn
from rewardgate.algebra.explain import Tracer
from rewardgate.errors import ComponentError, InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import Cell, Column, StepDetail
from rewardgate.pipeline.plan import ComponentPlan, Pipeline
from rewardgate.pipeline.regions import AnswerRegion
from rewardgate.pipeline.steps import step_items, steps_column
from rewardgate.sources.base import ScoreSource
from rewardgate.store.fanout import SourceOutcomes

#: A source's name and the [start, stop) of a component's items in that source's request.
Slice = tuple[str, int, int]


@dataclass
class SourceRequests:
    """Items per source, merged so each source sees one request."""

    items: dict[str, list[ScoringItem]] = field(default_factory=dict)
    sources: dict[str, ScoreSource] = field(default_factory=dict)

    def add(self, source: ScoreSource, items: list[ScoringItem]) -> Slice:
        bucket = self.items.setdefault(source.name, [])
        self.sources[source.name] = source
        start = len(bucket)
        bucket.extend(items)
        return source.name, start, len(bucket)

    def work(self) -> list[tuple[ScoreSource, list[ScoringItem]]]:
        return [(self.sources[name], items) for name, items in self.items.items()]


@dataclass
class LeafNeeds:
    """Where a leaf's values will be: its main slice, or one slice per item's steps; and
    the slice of the references scored as responses, when a transform reads them."""

    main: Slice | None = None
    reference: Slice | None = None
    has_reference: list[bool] = field(default_factory=list)
    steps: list[list[str]] | None = None  # per item
    step_slices: list[Slice | None] | None = None


@dataclass
class Gathered:
    requests: SourceRequests
    leaves: dict[str, LeafNeeds]
    classifiers: dict[str, Slice]
    #: Tournament components: the judge's slice and the (i, j) item pairs it holds, in order.
    tournaments: dict[str, tuple[Slice, list[tuple[int, int]]]] = field(default_factory=dict)


@dataclass
class LeafColumn:
    values: Column
    cached: list[bool]
    reference: Column | None = None
    steps: list[StepDetail | None] | None = None


def gather(
    pipeline: Pipeline,
    items: list[ScoringItem],
    groups: list[str | None] | None = None,
    incomplete: frozenset[str] = frozenset(),
) -> Gathered:
    """The requests that score every leaf and route classifier of ``pipeline`` over ``items``,
    each component's items as it grades them (:meth:`ComponentPlan.view`: answer regions),
    and every pair of each complete group for tournament components."""
    requests = SourceRequests()
    main_slices: dict[tuple[str, AnswerRegion | None], Slice] = {}
    views: dict[AnswerRegion | None, list[ScoringItem]] = {None: items}

    def viewed(plan: ComponentPlan) -> list[ScoringItem]:
        if plan.region not in views:
            views[plan.region] = plan.view(items)
        return views[plan.region]

    def main_slice(source: ScoreSource, plan: ComponentPlan) -> Slice:
        key = (source.name, plan.region)
        if key not in main_slices:
            main_slices[key] = requests.add(source, viewed(plan))
        return main_slices[key]

    leaves = {
        c.name: _leaf_needs(c, viewed(c), requests, main_slice) for c in pipeline.components if c.source
    }
    classifiers = {c.name: main_slice(c.classifier, c) for c in pipeline.components if c.classifier}
    tournaments = {
        c.name: _pairs(c, viewed(c), groups or [None] * len(items), incomplete, requests)
        for c in pipeline.components
        if c.pairs is not None
    }
    return Gathered(requests, leaves, classifiers, tournaments)


def _pairs(plan: ComponentPlan, items, groups, incomplete, requests: SourceRequests):
    """Every pair (i < j) of each complete group as one pairwise-judge item: response i
    against response j as the reference (the judge asks both orders)."""
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        if group is not None and group not in incomplete:
            members.setdefault(group, []).append(index)
    pairs = [(i, j) for indices in members.values() for n, i in enumerate(indices) for j in indices[n + 1 :]]
    judged = [replace(items[i], reference=items[j].response) for i, j in pairs]
    return requests.add(plan.pairs, judged), pairs


def _leaf_needs(plan: ComponentPlan, items, requests: SourceRequests, main_slice) -> LeafNeeds:
    """What leaf ``plan`` needs scored: ``items`` (as it grades them) or their steps, and the
    items' references as responses when a transform reads them."""
    needs = LeafNeeds()
    spec = plan.spec
    if spec.steps is None:
        needs.main = main_slice(plan.source, plan)
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


def head_column(
    plan: ComponentPlan, outcomes: dict[str, SourceOutcomes], where: Slice
) -> tuple[Column, list[bool]]:
    """The component's head, per item of the slice, and whether each came from the cache."""
    name, start, stop = where
    source = outcomes[name]
    index = plan.head_index()
    column: Column = [
        outcome if isinstance(outcome, ComponentError) else Cell(outcome[index])
        for outcome in source.outcomes[start:stop]
    ]
    return column, source.cached[start:stop]


def leaf_column(
    plan: ComponentPlan, needs: LeafNeeds, outcomes: dict[str, SourceOutcomes], tracer: Tracer
) -> LeafColumn:
    """A leaf's column as its source scored it (before transforms)."""
    if needs.main is not None:
        leaf = LeafColumn(*head_column(plan, outcomes, needs.main))
    else:
        values, cached, details = steps_column(plan, needs.steps, needs.step_slices, outcomes, tracer)
        leaf = LeafColumn(values, cached, steps=details)
    if needs.reference is not None:
        found = iter(head_column(plan, outcomes, needs.reference)[0])
        leaf.reference = [
            next(found) if has else InvalidReference(f"{plan.name}: transform needs items[].reference")
            for has in needs.has_reference
        ]
    if needs.main is not None:
        tracer.leaf(plan, leaf.values)
    return leaf
