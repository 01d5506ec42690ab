"""The failure policy: which per-item failures score, and as what (docs/reward-algebra.md#failures).

A trainer drops an item without a reward, so a response that could make its
grader fail would turn any low reward into none: the policy would learn to
produce such failures wherever it would otherwise score low. Therefore:

* a failure the **response** caused (``ComponentError.cause == "response"``:
  a verifier timing out or crashing on it, a judge refusing it, answering
  off-scale about it or rejecting it as too long, a model's token limit)
  scores as the component's *failure value*;
* a service failure of an **optional** component scores as its failure value
  too: dropping it would raise the reward of the items it should have
  penalised (a long response can make a judge time out);
* a service failure of a required component stays a retryable error;
* a failure the caller's input caused (``"input"``: a missing reference) stays
  an error naming what to fix, and an optional component it hits is left out
  (it does not apply to the item). In an OpenRLHF batch (``/get_reward``),
  whose float-only reply cannot carry an item error, such a failure of a
  required component scores as the failure value (``score_input_failures``),
  so one sample never fails its batch.

The failure value is the component's ``on_failure`` when declared, else the
worst end of its source's range for the component's weight: the minimum, or
the maximum for a negative weight (a penalty). Models have no range (nor has
a source whose worst end is infinite): a model
component needs ``on_failure`` for its failures to score.
"""

from __future__ import annotations

import math

from rewardgate.algebra.explain import Tracer
from rewardgate.config.pipeline_file import ComponentSpec
from rewardgate.errors import ComponentError
from rewardgate.pipeline.columns import Cell, Column
from rewardgate.pipeline.plan import ComponentPlan
from rewardgate.sources.base import ScoreSource


def failure_value(spec: ComponentSpec, source: ScoreSource | None, weight: float) -> float | None:
    """What a failure of a component scores as: ``on_failure``, else the worst end of the
    source's range for ``weight``; None when neither exists (models, ensembles, routes)."""
    if spec.on_failure is not None:
        return spec.on_failure
    score_range = source.score_range if source is not None else None
    if score_range is None:
        return None
    low, high = score_range
    worst = high if weight < 0 else low
    return worst if math.isfinite(worst) else None


def scores_as_failure(plan: ComponentPlan, error: ComponentError, inputs_too: bool = False) -> bool:
    """Whether ``error`` of ``plan`` scores as the failure value rather than staying an error;
    ``inputs_too``: the caller's input failures do as well (the compat routes)."""
    if plan.failure_value is None:
        return False
    if error.cause == "input":
        # An optional component the caller's item does not apply to is left out, as ever.
        return inputs_too and plan.required
    return error.cause == "response" or not plan.required


def fail_closed(
    plan: ComponentPlan, column: Column, tracer: Tracer, inputs_too: bool = False
) -> dict[int, ComponentError]:
    """Replaces, in place, the failures of ``column`` that score by the failure value; returns
    them by item index (they stay visible in the item's ``errors``)."""
    failed: dict[int, ComponentError] = {}
    if plan.failure_value is None:  # no failure scores (scores_as_failure): nothing to look for
        return failed
    for index, entry in enumerate(column):
        if isinstance(entry, ComponentError) and scores_as_failure(plan, entry, inputs_too):
            cell = Cell(plan.failure_value)
            tracer.failed(plan, entry, cell)
            column[index] = cell
            failed[index] = entry
    return failed
