"""Column arithmetic: a component's transforms, and ensembles (docs/reward-algebra.md).

Pointwise transforms (affine, clip, tanh) map each value; ``standardize``
uses running statistics (updated by this column, read by its reference
column); ``log_sigmoid`` and ``par`` compare each value with a reference: the
item's reference scored as a response, its group's mean, or a constant.
An ensemble combines its members' columns into one (mean, min, weighted
mean, mean minus a multiple of the spread), optionally standardizing each
member first.
"""

from __future__ import annotations

import math
from collections import defaultdict

from service.algebra import functions as fn
from service.algebra.explain import ExplainNode, num
from service.algebra.running_stats import StatsStore
from service.algebra.spec import (
    AffineTransform,
    ClipTransform,
    LogSigmoidTransform,
    ParTransform,
    StandardizeTransform,
    TanhTransform,
)
from service.errors import ComponentError, InvalidComponentInput, InvalidReference
from service.scoring.columns import MISSING, Cell, Column, map_column
from service.scoring.plan import ComponentPlan, Pipeline


class ColumnTransforms:
    """Transforms for one request: ``stats`` holds the running statistics, ``explain`` adds nodes."""

    def __init__(self, stats: StatsStore, explain: bool) -> None:
        self.stats = stats
        self.explain = explain

    def apply(self, plan: ComponentPlan, column: Column, ref_column: Column | None, groups) -> Column:
        for index, transform in enumerate(plan.spec.transform):
            if isinstance(transform, StandardizeTransform):
                key = f"{plan.stats_key}/t{index}"
                column = self.standardize(column, key, transform.min_std)
                if ref_column is not None:
                    ref_column = self.standardize(ref_column, key, transform.min_std, update=False)
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

    def standardize(
        self, column: Column, key: str, min_std: float, *, update: bool = True, label="standardize"
    ):
        stats = self.stats.get(key)
        if update:
            for entry in column:
                if isinstance(entry, Cell):
                    stats.update(entry.value)
        mean, std = stats.mean, max(stats.std, min_std)

        def formula(x: float, y: float) -> str:
            return f"({num(x)} - {num(mean)}) / {num(std)} = {num(y)} (running, n={stats.count})"

        return map_column(column, lambda x: (x - mean) / std, label, formula, self.explain)

    def _pointwise(self, transform, column: Column) -> Column:
        if isinstance(transform, AffineTransform):
            scale, shift = transform.scale, transform.shift
            return map_column(
                column,
                lambda x: scale * x + shift,
                "affine",
                lambda x, y: f"{num(scale)} * {num(x)} + {num(shift)} = {num(y)}",
                self.explain,
            )
        if isinstance(transform, ClipTransform):
            low, high = transform.min, transform.max
            return map_column(
                column,
                lambda x: fn.clip(x, low, high),
                "clip",
                lambda x, y: f"clip({num(x)}, {low}, {high}) = {num(y)}",
                self.explain,
            )
        if isinstance(transform, TanhTransform):
            scale = transform.scale
            return map_column(
                column,
                lambda x: math.tanh(scale * x),
                "tanh",
                lambda x, y: f"tanh({num(scale)} * {num(x)}) = {num(y)}",
                self.explain,
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
                if self.explain:
                    cell.node = ExplainNode(
                        label,
                        value,
                        f"{label}({num(entry.value)} - r_ref {num(ref)} [{source}]) = {num(value)}",
                        inputs=[entry.node] if entry.node else [],
                    )
                out.append(cell)
        return out

    def ensemble(self, plan: ComponentPlan, pipeline: Pipeline, columns: dict[str, Column]) -> Column:
        """One column from the ensemble's member columns (standardized first when asked);
        an item with a failed or missing member is missing."""
        spec = plan.spec.ensemble
        members = {m: columns[m] for m in spec.members}
        if spec.standardize:
            members = {
                m: self.standardize(
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
            if self.explain:
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
