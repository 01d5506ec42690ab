"""Components scored per step of the response (process rewards, docs/reward-algebra.md)."""

from __future__ import annotations

from dataclasses import replace

from rewardgate.algebra import functions as fn
from rewardgate.algebra.explain import Tracer
from rewardgate.algebra.spec import DelimiterSplit
from rewardgate.errors import BackendError, ComponentError, NoSteps
from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import Cell, Column, StepDetail
from rewardgate.pipeline.plan import ComponentPlan


def step_items(item: ScoringItem, steps: list[str], spec) -> list[ScoringItem]:
    """One item per step: the step alone, or the response up to and including it."""
    if spec.context == "step":
        return [replace(item, response=step) for step in steps]
    if isinstance(spec.split, DelimiterSplit):
        joined = [spec.split.delimiter.join(steps[: k + 1]) for k in range(len(steps))]
    else:
        tag = spec.split.tag
        joined = ["".join(f"<{tag}>{s}</{tag}>" for s in steps[: k + 1]) for k in range(len(steps))]
    return [replace(item, response=text) for text in joined]


def steps_column(plan: ComponentPlan, steps_per_item, slices, outcomes, tracer: Tracer):
    """The column of a component read per step: each item's step scores aggregated, with the
    per-step rewards and deltas; an item without steps, or whose steps failed, is an error."""
    spec = plan.spec.steps
    whole = plan.scores_steps_at_once
    column: Column = []
    cached: list[bool] = []
    details: list[StepDetail | None] = []
    head = None if whole else plan.head_index()
    for steps, where in zip(steps_per_item, slices, strict=True):
        if where is None:
            column.append(NoSteps(f"{plan.name}: the response has no steps to score"))
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
        value = fn.aggregate_steps(scores, spec.aggregate, spec.threshold)
        details.append(StepDetail(scores, fn.step_deltas(scores)))
        cell = Cell(value)
        tracer.steps(plan, cell, scores)
        column.append(cell)
    return column, cached, details
