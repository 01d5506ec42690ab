"""The column algebra on hand-built columns: no runtime, no sources, no fan-out.

Cells carry values, a ComponentError stays that item's error, MISSING stays
missing: a failure never turns into a number, whatever transform runs.
"""

from __future__ import annotations

import math

import pytest

from rewardgate.algebra.explain import tracer_for
from rewardgate.algebra.running_stats import StatsStore
from rewardgate.algebra.spec import (
    AffineTransform,
    ClipTransform,
    LogSigmoidTransform,
    ParTransform,
    StandardizeTransform,
    TanhTransform,
)
from rewardgate.errors import InvalidComponentInput, InvalidReference, VerifierTimeout
from rewardgate.pipeline.columns import MISSING, Cell
from rewardgate.pipeline.transforms import TransformRun, apply_transforms, compile_transforms

FAILED = VerifierTimeout("killed")


def run(groups=None, size=4, explain=False) -> TransformRun:
    return TransformRun(StatsStore(), tracer_for(explain), groups or [None] * size)


def values(column) -> list:
    return [entry.value if isinstance(entry, Cell) else entry for entry in column]


def through(specs, column, ref_column=None, groups=None, explain=False):
    transforms = compile_transforms(specs, "p/c")
    return apply_transforms(transforms, column, ref_column, run(groups, len(column), explain))


def test_pointwise_transforms_compose_in_order_and_pass_failures_through():
    column = [Cell(1.0), FAILED, MISSING, Cell(-3.0)]
    specs = [
        AffineTransform(type="affine", scale=2.0, shift=1.0),
        ClipTransform(type="clip", min=-2.0, max=2.5),
        TanhTransform(type="tanh", scale=0.5),
    ]
    out = through(specs, column)
    assert values(out)[0] == pytest.approx(math.tanh(0.5 * 2.5))
    assert values(out)[3] == pytest.approx(math.tanh(0.5 * -2.0))
    assert out[1] is FAILED and out[2] is MISSING


def test_group_mean_compares_each_item_with_its_own_group_only():
    column = [Cell(1.0), Cell(3.0), Cell(10.0), FAILED]
    groups = ["g", "g", "h", "h"]
    out = through([ParTransform(type="par", ref="group_mean")], column, groups=groups)
    assert values(out)[:3] == pytest.approx([1 / (1 + math.e), 1 / (1 + math.e**-1), 0.5])
    assert out[3] is FAILED  # a failed member neither gets a value nor moves its group's mean


def test_group_mean_without_a_group_is_an_item_error_not_zero():
    out = through([LogSigmoidTransform(type="log_sigmoid", ref="group_mean")], [Cell(1.0), Cell(2.0)])
    assert all(isinstance(entry, InvalidComponentInput) for entry in out)


def test_reference_relative_reads_the_reference_column_and_its_failures():
    column = [Cell(2.0), Cell(2.0), Cell(2.0)]
    refs = [Cell(1.0), FAILED, MISSING]
    out = through([LogSigmoidTransform(type="log_sigmoid", ref="reference")], column, refs)
    assert values(out)[0] == pytest.approx(math.log(1 / (1 + math.exp(-1.0))))
    assert out[1] is FAILED
    assert isinstance(out[2], InvalidReference)


def test_a_constant_reference_maps_every_value():
    out = through([ParTransform(type="par", ref=1.0)], [Cell(1.0), Cell(3.0)])
    assert values(out) == pytest.approx([0.5, 1 / (1 + math.exp(-2.0))])


def test_standardize_uses_running_statistics_that_failures_do_not_touch():
    store = StatsStore()
    (standardize,) = compile_transforms([StandardizeTransform(type="standardize", min_std=1e-6)], "p/c")
    first = TransformRun(store, tracer_for(False), [None] * 3)
    out, _ = standardize.apply([Cell(1.0), Cell(3.0), FAILED], None, first)
    # mean 2, population std 1 over the two values; the failure is not a sample
    stats = store.get("p/c/t0")
    assert (stats.count, stats.mean) == (2, 2.0)
    assert values(out)[:2] == pytest.approx([(1.0 - 2.0) / stats.std, (3.0 - 2.0) / stats.std])
    assert out[2] is FAILED


def test_the_reference_column_reads_running_statistics_without_updating_them():
    store = StatsStore()
    (standardize,) = compile_transforms([StandardizeTransform(type="standardize")], "p/c")
    shared = TransformRun(store, tracer_for(False), [None, None])
    standardize.apply([Cell(0.0), Cell(4.0)], [Cell(100.0), Cell(-100.0)], shared)
    assert store.get("p/c/t0").count == 2


def test_explaining_changes_no_value():
    column = [Cell(0.5), FAILED, Cell(2.0), Cell(-1.0)]
    specs = [AffineTransform(type="affine", scale=3.0), TanhTransform(type="tanh")]
    plain = through(specs, column)
    explained = through(specs, column, explain=True)
    assert values(plain) == values(explained)
    assert all(entry.node is not None for entry in explained if isinstance(entry, Cell))
