"""The pipeline file's models: ``models``, ``rules``, ``judges`` and ``pipelines`` as validated specs.

Reading and cross-checking a file is rewardgate/config/pipeline_file.py; the
checks (config/checks.py) read these specs, so they live apart from both.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from rewardgate.algebra.functions import Condition
from rewardgate.algebra.spec import (
    CombineSpec,
    ConstraintSpec,
    EnsembleSpec,
    GateSpec,
    LengthPenaltySpec,
    OverridableSpec,
    RouteSpec,
    StepsSpec,
    TransformSpec,
)
from rewardgate.groups.spec import GroupSpec
from rewardgate.hashing import canonical_sha256
from rewardgate.sources.judge.spec import FallbackSpec, JudgeSpec
from rewardgate.sources.model.spec import ModelSpec
from rewardgate.sources.rule.spec import RuleSpec
from rewardgate.strict import StrictModel

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


COMPONENT_KINDS = ("model", "rule", "judge", "ensemble", "route", "group")


class ComponentSpec(StrictModel):
    """One named input of a pipeline: exactly one of ``model``, ``rule``,
    ``ensemble`` or ``route``, then optional ``steps`` and ``transform``."""

    model: str | None = Field(None, description="A model of the file.")
    rule: str | None = Field(None, description="A rule of the file.")
    judge: str | None = Field(None, description="A judge of the file.")
    ensemble: EnsembleSpec | None = Field(None, description="Aggregate of other components.")
    route: RouteSpec | None = Field(None, description="Per-item choice of a sub-pipeline.")
    group: GroupSpec | None = Field(
        None,
        description="Computed over each sample's whole group (majority vote, view agreement, duplicates).",
    )
    head: int | str = Field(0, description="Output head of a multi-head model (index or label).")
    required: bool = Field(
        True, description="If false, a failure makes the item 'partial' instead of 'error'."
    )
    steps: StepsSpec | None = Field(None, description="Score the response step by step (process reward).")
    transform: list[TransformSpec] = Field(
        default_factory=list, description="Transforms applied in order to the component's value."
    )
    fallback: FallbackSpec | None = Field(
        None, description="Rule components: ask a judge only when the rule did not decide (cascade)."
    )
    on_failure: float | None = Field(
        None,
        # Left out of dumps when unset, so hashes and statistics keys of existing configs stay put.
        exclude_if=lambda value: value is None,
        allow_inf_nan=False,
        description="The value a failure the response caused scores as (docs/reward-algebra.md#failures). "
        "Default: the worst end of the source's range for the component's weight (its minimum, or its "
        "maximum for a negative weight); models have no range and need it set.",
    )
    region: Literal["answer", "response"] | None = Field(
        None,
        # Left out of dumps when unset, so hashes and statistics keys of existing configs stay put.
        exclude_if=lambda value: value is None,
        description="What the component grades: the answer region, or the whole response. Default: "
        "the answer in a pipeline with a think_answer rule (format rules: the whole response), "
        "else the whole response.",
    )

    @field_validator("transform", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ComponentSpec:
        kinds = [k for k in COMPONENT_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a component needs exactly one of 'model', 'rule', 'judge', 'ensemble', 'route' or 'group'"
            )
        if self.steps is not None and kinds[0] not in ("model", "rule"):
            raise ValueError("steps apply to model and rule components only")
        if self.fallback is not None and (kinds[0] != "rule" or self.steps is not None):
            raise ValueError("fallback applies to rule components without steps")
        if self.region is not None and kinds[0] == "ensemble":
            raise ValueError("region applies to components that read the response, not ensembles")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in COMPONENT_KINDS if getattr(self, k) is not None)

    def inputs(self) -> list[str]:
        """Components of the same pipeline this one is computed from."""
        return list(self.ensemble.members) if self.ensemble else []


class PipelineSpec(StrictModel):
    description: str = ""
    components: dict[Name, ComponentSpec] = Field(min_length=1)
    combine: CombineSpec = Field(default_factory=CombineSpec)
    gates: list[GateSpec] = Field(
        default_factory=list, description="Components counted only past a threshold."
    )
    constraints: list[ConstraintSpec] = Field(
        default_factory=list, description="Conditions that override the reward when violated."
    )
    length_penalty: LengthPenaltySpec | None = Field(None, description="Added to the combined reward.")
    shared: list[Literal["cache", "statistics"]] = Field(
        default_factory=list,
        # Left out of dumps when empty, so hashes and statistics keys of existing configs stay put.
        exclude_if=lambda value: not value,
        description="State every API key shares on this pipeline (default: none: cache visibility and "
        "running statistics are per key, docs/api.md#tenancy).",
    )
    overridable: OverridableSpec | None = Field(
        None,
        # Left out of dumps when unset, so hashes and statistics keys of existing configs stay put.
        exclude_if=lambda value: value is None,
        description="What a request may change, with bounds (e.g. {weights: {help: [-1, 1]}}); any "
        "other option that would change the reward is refused (docs/reward-algebra.md#caller-options).",
    )

    def effective_weights(self) -> dict[str, float]:
        """Declared weights, or 1 for each component that is neither an ensemble
        member nor used by a constraint."""
        if self.combine.weights is not None:
            return dict(self.combine.weights)
        consumed = {m for c in self.components.values() for m in c.inputs()}
        consumed |= {Condition.parse(c.condition).component for c in self.constraints}
        return {name: 1.0 for name in self.components if name not in consumed}


class PipelineConfig(StrictModel):
    """The whole file, cross-checked (names resolve, weights name components)."""

    models: dict[Name, ModelSpec] = Field(default_factory=dict)
    rules: dict[Name, RuleSpec] = Field(default_factory=dict)
    judges: dict[Name, JudgeSpec] = Field(default_factory=dict)
    pipelines: dict[Name, PipelineSpec] = Field(min_length=1)

    def reachable_pipelines(self, name: str) -> list[str]:
        """``name`` and every pipeline its routes can reach (depth first, no repeats)."""
        seen: list[str] = []
        stack = [name]
        while stack:
            current = stack.pop()
            if current in seen or current not in self.pipelines:
                continue
            seen.append(current)
            for component in self.pipelines[current].components.values():
                if component.route:
                    stack.extend(component.route.targets())
        return seen

    def pipeline_hash(self, name: str) -> str:
        """Content hash of a pipeline with every sub-pipeline, model and rule it uses resolved."""
        names = sorted(self.reachable_pipelines(name))
        components = [c for p in names for c in self.pipelines[p].components.values()]
        models = {c.model for c in components if c.model} | {
            c.route.classifier for c in components if c.route and c.route.classifier
        }
        resolved = {
            "pipeline": self.pipelines[name].model_dump(mode="json"),
            "sub_pipelines": {p: self.pipelines[p].model_dump(mode="json") for p in names if p != name},
            "models": {m: self.models[m].model_dump(mode="json") for m in sorted(models)},
            "rules": {c.rule: self.rules[c.rule].model_dump(mode="json") for c in components if c.rule},
            "judges": {
                j: self.judges[j].model_dump(mode="json", exclude={"api_key_env", "api_key_file"})
                for j in sorted(used_judges(components))
            },
        }
        return "sha256:" + canonical_sha256(resolved)


def used_judges(components) -> set[str]:
    """Judges named by components, directly, as a rule's fallback or as a tournament's judge."""
    return (
        {c.judge for c in components if c.judge}
        | {c.fallback.judge for c in components if c.fallback}
        | {c.group.judge for c in components if c.group and c.group.judge}
    )
