"""Column arithmetic: a component's transforms, and ensembles (docs/reward-algebra.md).

Each transform spec compiles once, with its pipeline, into a
:class:`ColumnTransform` that applies itself to a column (and to the
column of the items' references scored as responses, when there is one):

* :class:`Pointwise` (affine, clip, tanh) maps each value;
* :class:`Standardize` uses running statistics (updated by this column, read
  by its reference column);
* :class:`Relative` (``log_sigmoid``, ``par``) compares each value with a
  reference: the item's reference scored as a response, its group's mean, or
  a constant.

An ensemble combines its members' columns into one (mean, min, weighted
mean, mean minus a multiple of the spread), optionally standardizing each
member first.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from rewardgate.algebra import functions as fn
from rewardgate.algebra.explain import Tracer, num
from rewardgate.algebra.running_stats import StatsStore
from rewardgate.algebra.spec import (
    AffineTransform,
    ClipTransform,
    LogSigmoidTransform,
    ParTransform,
    StandardizeTransform,
    TanhTransform,
)
from rewardgate.errors import ComponentError, InvalidComponentInput, InvalidReference
from rewardgate.pipeline.columns import MISSING, Cell, Column, map_column


@dataclass(frozen=True, slots=True)
class TransformRun:
    """What transforms share within one evaluation."""

    stats: StatsStore
    tracer: Tracer
    groups: list[str | None]
    #: Appended to running-statistics keys: the caller's tenant, or "" when they are shared.
    scope: str = ""


class ColumnTransform(ABC):
    """One transform of a component's column."""

    @abstractmethod
    def apply(
        self, column: Column, ref_column: Column | None, run: TransformRun
    ) -> tuple[Column, Column | None]:
        """The transformed column and reference column (None stays None)."""


class Pointwise(ColumnTransform):
    """``function`` on each value, the same on the reference column."""

    def __init__(self, label: str, function: Callable[[float], float], describe) -> None:
        self.label = label
        self.function = function
        self.describe = describe

    def apply(self, column, ref_column, run):
        return self.map(column, run), (None if ref_column is None else self.map(ref_column, run))

    def map(self, column: Column, run: TransformRun) -> Column:
        return map_column(column, self.function, self.label, self.describe, run.tracer)


class Standardize(ColumnTransform):
    """(x - mean) / max(std, min_std) by the running statistics under ``key``, which this
    column updates and the reference column only reads."""

    def __init__(self, key: str, min_std: float, label: str = "standardize") -> None:
        self.key = key
        self.min_std = min_std
        self.label = label

    def apply(self, column, ref_column, run):
        column = self.map(column, run, update=True)
        return column, (None if ref_column is None else self.map(ref_column, run, update=False))

    def map(self, column: Column, run: TransformRun, *, update: bool) -> Column:
        stats = run.stats.get(self.key + run.scope)
        if update:
            for entry in column:
                if isinstance(entry, Cell):
                    stats.update(entry.value)
        mean, std = stats.mean, max(stats.std, self.min_std)

        def describe(x: float, y: float) -> str:
            return f"({num(x)} - {num(mean)}) / {num(std)} = {num(y)} (running, n={stats.count})"

        return map_column(column, lambda x: (x - mean) / std, self.label, describe, run.tracer)


class Relative(ColumnTransform):
    """``function(x - ref)`` per item; ``ref`` is ``reference`` (the item's reference scored as
    a response), ``group_mean`` or a constant. A constant reference also maps the reference
    column; the others read it."""

    def __init__(self, label: str, function: Callable[[float], float], ref: str | float) -> None:
        self.label = label
        self.function = function
        self.ref = ref
        self.ref_source = ref if isinstance(ref, str) else "fixed"

    def apply(self, column, ref_column, run):
        refs = self._refs(column, ref_column, run.groups)
        out = self._compare(column, refs, run.tracer)
        if ref_column is not None and not isinstance(self.ref, str):
            ref_column = self._compare(ref_column, refs, run.tracer)
        return out, ref_column

    def _refs(self, column: Column, ref_column: Column | None, groups) -> list[float | ComponentError]:
        if self.ref == "reference":
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
        if self.ref == "group_mean":
            members: dict[str, list[float]] = defaultdict(list)
            for group, entry in zip(groups, column, strict=True):
                if group is not None and isinstance(entry, Cell):
                    members[group].append(entry.value)
            return [
                fn.finite_sum(members[g]) / len(members[g])
                if g is not None and members.get(g)
                else InvalidComponentInput("group_mean needs items[].group")
                for g in groups
            ]
        return [float(self.ref)] * len(column)

    def _compare(self, column: Column, refs, tracer: Tracer) -> Column:
        out: Column = []
        for entry, ref in zip(column, refs, strict=True):
            if not isinstance(entry, Cell):
                out.append(entry)
            elif isinstance(ref, ComponentError):
                out.append(ref)
            else:
                cell = Cell(self.function(entry.value - ref))
                tracer.relative(self.label, entry, cell, ref, self.ref_source)
                out.append(cell)
        return out


def _affine(spec: AffineTransform, key: str) -> ColumnTransform:
    scale, shift = spec.scale, spec.shift
    return Pointwise(
        "affine",
        lambda x: scale * x + shift,
        lambda x, y: f"{num(scale)} * {num(x)} + {num(shift)} = {num(y)}",
    )


def _clip(spec: ClipTransform, key: str) -> ColumnTransform:
    low, high = spec.min, spec.max
    return Pointwise(
        "clip", lambda x: fn.clip(x, low, high), lambda x, y: f"clip({num(x)}, {low}, {high}) = {num(y)}"
    )


def _tanh(spec: TanhTransform, key: str) -> ColumnTransform:
    scale = spec.scale
    return Pointwise(
        "tanh", lambda x: math.tanh(scale * x), lambda x, y: f"tanh({num(scale)} * {num(x)}) = {num(y)}"
    )


_COMPILERS = {
    AffineTransform: _affine,
    ClipTransform: _clip,
    TanhTransform: _tanh,
    StandardizeTransform: lambda spec, key: Standardize(key, spec.min_std),
    LogSigmoidTransform: lambda spec, key: Relative("log_sigmoid", fn.log_sigmoid, spec.ref),
    ParTransform: lambda spec, key: Relative("par", fn.sigmoid, spec.ref),
}


def compile_transforms(specs, stats_key: str) -> tuple[ColumnTransform, ...]:
    """A component's transform specs as objects, in order; running statistics of the
    ``index``-th live under ``{stats_key}/t{index}``."""
    return tuple(_COMPILERS[type(spec)](spec, f"{stats_key}/t{index}") for index, spec in enumerate(specs))


def apply_transforms(transforms, column: Column, ref_column: Column | None, run: TransformRun) -> Column:
    """``column`` through each transform in order (the reference column alongside)."""
    for transform in transforms:
        column, ref_column = transform.apply(column, ref_column, run)
    return column


def ensemble_column(plan, pipeline, columns: dict[str, Column], run: TransformRun) -> Column:
    """One column from the ensemble's member columns (standardized first when asked);
    an item with a failed or missing member is missing."""
    spec = plan.spec.ensemble
    members = {m: columns[m] for m in spec.members}
    if spec.standardize:
        members = {
            m: Standardize(f"{pipeline.component(m).stats_key}/member", 1e-6, f"standardize {m}").map(
                col, run, update=True
            )
            for m, col in members.items()
        }
    column: Column = []
    for index in range(len(next(iter(members.values())))):
        entries = {m: col[index] for m, col in members.items()}
        if not all(isinstance(e, Cell) for e in entries.values()):
            column.append(MISSING)
            continue
        cell = Cell(
            fn.ensemble({m: e.value for m, e in entries.items()}, spec.aggregate, spec.weights, spec.penalty)
        )
        run.tracer.ensemble(plan, cell, entries)
        column.append(cell)
    return column
