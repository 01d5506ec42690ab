"""YAML shapes of the reward algebra (validated at start-up).

Every mapping is strict: an unknown key or a mistyped ``type`` is a
configuration error naming its dotted path. Cross-references (component
names, sub-pipelines, cycles) are checked in rewardgate/config/pipeline_file.py.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from rewardgate.strict import StrictModel

# ---------------------------------------------------------------- references

Ref = float | Literal["group_mean", "reference"]
REF_DESCRIPTION = (
    "r_ref: a number, 'group_mean' (mean over the request's items sharing the item's group), "
    "or 'reference' (the same component's score of the item's reference text used as a response)."
)


# ---------------------------------------------------------------- transforms


class StandardizeTransform(StrictModel):
    """Running standardisation ``(r - mu) / max(sigma, min_std)`` with streaming statistics."""

    type: Literal["standardize"]
    min_std: float = Field(1e-6, gt=0, description="Floor on sigma (the first value standardises to 0).")


class AffineTransform(StrictModel):
    """``scale * r + shift``."""

    type: Literal["affine"]
    scale: float = 1.0
    shift: float = 0.0


class ClipTransform(StrictModel):
    """``min(max(r, min), max)``; either bound may be omitted."""

    type: Literal["clip"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ClipTransform:
        if self.min is None and self.max is None:
            raise ValueError("clip needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("clip min must not exceed max")
        return self


class TanhTransform(StrictModel):
    """``tanh(scale * r)``: monotone, bounded in (-1, 1)."""

    type: Literal["tanh"]
    scale: float = Field(1.0, gt=0)


class LogSigmoidTransform(StrictModel):
    """``log sigmoid(r - r_ref)``: at most 0, steepest for poor outputs."""

    type: Literal["log_sigmoid"]
    ref: Ref = Field(0.0, description=REF_DESCRIPTION)


class ParTransform(StrictModel):
    """Preference-as-reward ``sigmoid(r - r_ref)`` in (0, 1)."""

    type: Literal["par"]
    ref: Ref = Field(0.0, description=REF_DESCRIPTION)


TransformSpec = Annotated[
    StandardizeTransform
    | AffineTransform
    | ClipTransform
    | TanhTransform
    | LogSigmoidTransform
    | ParTransform,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- component kinds


class EnsembleSpec(StrictModel):
    """Aggregate several member components, each standardised first."""

    members: list[str] = Field(min_length=2, description="Component names of this pipeline.")
    aggregate: Literal["mean", "min", "median", "weighted", "mean_minus_std"] = "mean"
    weights: dict[str, float] | None = Field(None, description="Per-member weight (aggregate=weighted).")
    penalty: float = Field(
        1.0, alias="lambda", ge=0, description="lambda in mean - lambda * std (aggregate=mean_minus_std)."
    )
    standardize: bool = Field(True, description="Running-standardise each member before aggregating.")

    @model_validator(mode="after")
    def _weights(self) -> EnsembleSpec:
        if len(set(self.members)) != len(self.members):
            raise ValueError("ensemble members must be distinct")
        if self.aggregate == "weighted":
            if not self.weights:
                raise ValueError("aggregate=weighted needs weights")
            if set(self.weights) != set(self.members):
                raise ValueError("weights must name exactly the members")
            if sum(self.weights.values()) == 0:
                raise ValueError("weights must not sum to 0")
        elif self.weights is not None:
            raise ValueError("weights apply only to aggregate=weighted")
        return self


class RouteSpec(StrictModel):
    """Pick a sub-pipeline per item; the component's value is that pipeline's reward."""

    field: str | None = Field(None, description="Item metadata key whose value selects the route.")
    classifier: str | None = Field(
        None, description="Model whose highest-scoring head (by label) selects the route."
    )
    pipelines: dict[str, str] = Field(min_length=1, description="Route value or head label -> pipeline.")
    default: str | None = Field(None, description="Pipeline for unmatched items; none = item error.")

    @model_validator(mode="after")
    def _one_selector(self) -> RouteSpec:
        if (self.field is None) == (self.classifier is None):
            raise ValueError("a route needs exactly one of 'field' or 'classifier'")
        return self

    def targets(self) -> list[str]:
        """Every pipeline this route can pick (the default included)."""
        return [*self.pipelines.values(), *([self.default] if self.default else [])]


class DelimiterSplit(StrictModel):
    delimiter: str = Field(min_length=1, description="Steps are the non-blank pieces between delimiters.")


class TagSplit(StrictModel):
    tag: str = Field(pattern=r"^[A-Za-z][\w\-]*$", description="Steps are the bodies of <tag>...</tag>.")


#: Step aggregates a policy could raise by repeating or padding steps, and why.
GAMEABLE_STEP_AGGREGATES = {
    "mean": "the mean rises with every repeated or padded step that scores above it",
    "sum": "the sum rises with every repeated or padded step that scores above 0",
}


class StepsSpec(StrictModel):
    """Process reward: split the response into steps, score each, aggregate.

    Every aggregate offered is monotone under added steps: a repeated or
    padded step can lower the value or leave it, never raise it.
    """

    split: DelimiterSplit | TagSplit
    context: Literal["step", "prefix"] = Field(
        "step",
        description="What a rule or outcome model scores per step: the step alone, or every step up "
        "to it. A process_reward_model always sees all steps at once.",
    )
    aggregate: Literal["min", "last", "product", "clipped_sum"] = Field(
        "min",
        description="min; last (of the distinct steps); product of scores clipped to [0, 1]; "
        "clipped_sum: sum of min(score - threshold, 0).",
    )
    threshold: float = Field(
        1.0,
        allow_inf_nan=False,
        exclude_if=lambda value: value == 1.0,  # dumps (hashes, statistics keys) as before when unset
        description="clipped_sum: a step adds min(score - threshold, 0), never a positive amount.",
    )

    @field_validator("aggregate", mode="before")
    @classmethod
    def _not_gameable(cls, value: Any) -> Any:
        if value in GAMEABLE_STEP_AGGREGATES:
            raise ValueError(
                f"aggregate {value!r} can be raised by repeating or padding steps "
                f"({GAMEABLE_STEP_AGGREGATES[value]}); use min, last, product or clipped_sum "
                "(docs/reward-algebra.md#process-rewards)"
            )
        return value


# ---------------------------------------------------------------- combination

CONDITION = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_\-]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$"
)


def check_condition(text: str) -> str:
    if not CONDITION.match(text):
        raise ValueError(f"condition {text!r} must read 'COMPONENT OP NUMBER' with OP one of < <= > >= == !=")
    return text


Condition = Annotated[str, AfterValidator(check_condition)]


class CombineSpec(StrictModel):
    """Terms ``t_c = w_c * v_c`` over weighted components, then sum, product or min."""

    type: Literal["weighted_sum", "product", "min"] = "weighted_sum"
    weights: dict[str, float] | None = Field(
        None,
        description="Per-component weight; omitted = 1 for every component that is neither an "
        "ensemble member nor used by a constraint. Weight 0 leaves a component out.",
    )


#: The largest weight magnitude a pipeline may let a caller choose: with the documented value
#: ranges this keeps every term and sum finite (a request's 1e308 never reaches the arithmetic).
MAX_OVERRIDE_WEIGHT = 1e6


class OverridableSpec(StrictModel):
    """What a caller may change per request, with bounds; everything else is the pipeline's."""

    weights: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="Components whose combine weight a request may set (options.weights), each "
        f"with its [lowest, highest] allowed weight (finite, magnitude at most {MAX_OVERRIDE_WEIGHT:g}).",
    )

    @field_validator("weights")
    @classmethod
    def _bounded(cls, weights: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for name, (low, high) in weights.items():
            if (
                not (math.isfinite(low) and math.isfinite(high))
                or max(abs(low), abs(high)) > MAX_OVERRIDE_WEIGHT
            ):
                raise ValueError(
                    f"{name}: bounds must be finite, of magnitude at most {MAX_OVERRIDE_WEIGHT:g}"
                )
            if low > high:
                raise ValueError(f"{name}: [lowest, highest] with lowest <= highest")
        return weights


class GateSpec(StrictModel):
    """The listed components count only while the condition holds (gated reward accumulation)."""

    components: list[str] = Field(min_length=1)
    condition: Condition = Field(alias="if", description="'COMPONENT OP NUMBER', e.g. 'correct >= 1'.")
    otherwise: float = Field(0.0, description="Value the gated components take while the gate is closed.")


class ConstraintSpec(StrictModel):
    """When the condition holds the constraint is violated: the reward becomes ``reward``."""

    condition: Condition = Field(alias="if", description="'COMPONENT OP NUMBER', e.g. 'safe < 0.5'.")
    reward: float = Field(description="The reward of an item that violates the constraint.")
    name: str | None = Field(None, description="Label used in explanations.")


class OverlongLengthPenalty(StrictModel):
    """DAPO soft overlong punishment, added to the reward times ``coefficient``."""

    type: Literal["overlong"]
    max_length: int = Field(gt=0)
    cache_length: int = Field(gt=0)
    unit: Literal["chars", "words"] = "words"
    coefficient: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _cache_within_max(self) -> OverlongLengthPenalty:
        if self.cache_length > self.max_length:
            raise ValueError("cache_length must not exceed max_length")
        return self


class LinearLengthPenalty(StrictModel):
    """``-coefficient * max(0, L - target) / target`` added to the reward."""

    type: Literal["linear"]
    target: int = Field(gt=0)
    unit: Literal["chars", "words"] = "words"
    coefficient: float = Field(1.0, ge=0)


LengthPenaltySpec = Annotated[OverlongLengthPenalty | LinearLengthPenalty, Field(discriminator="type")]
