"""Resolved pipelines: what the evaluator executes.

The runtime turns each :class:`~rewardgate.config.pipeline_file.PipelineSpec` into a
:class:`Pipeline` whose components point at live score sources, listed in
dependency order (ensemble members before their ensemble).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from rewardgate.algebra.functions import Condition
from rewardgate.config.pipeline_file import ComponentSpec, PipelineSpec, canonical_sha256
from rewardgate.items import ScoringItem
from rewardgate.pipeline.regions import AnswerRegion
from rewardgate.sources.base import ScoreSource


@dataclass(frozen=True)
class ComponentPlan:
    """A pipeline component: where its value comes from and how it is shaped."""

    name: str
    spec: ComponentSpec
    source: ScoreSource | None  # model and rule components
    classifier: ScoreSource | None = None  # routes chosen by a classifier model
    fallback: ScoreSource | None = None  # judge asked when the rule did not decide
    pairs: ScoreSource | None = None  # the pairwise judge of a group tournament
    weight: float = 0.0
    #: Prefix of this component's running-statistics keys; changes with its spec.
    stats_key: str = ""
    #: ``spec.transform`` compiled (rewardgate/pipeline/transforms.py), applied in order.
    transforms: tuple = ()
    #: The answer region this component grades (rewardgate/pipeline/regions.py); None: the whole response.
    region: AnswerRegion | None = None
    #: What a failure the response caused scores as (rewardgate/pipeline/failures.py); None: no value.
    failure_value: float | None = None

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def required(self) -> bool:
        return self.spec.required

    @property
    def head(self) -> int | str:
        return self.spec.head

    @property
    def scores_steps_at_once(self) -> bool:
        """A process reward model, or a likelihood model reduced per step: one input carries every
        step, one score per step comes back."""
        spec = getattr(self.source, "spec", None)
        kind = getattr(spec, "kind", None)
        if kind == "likelihood":
            return spec.likelihood is not None and spec.likelihood.reduce == "per_step"
        return kind == "process_reward_model"

    def view(self, items: list[ScoringItem]) -> list[ScoringItem]:
        """``items`` as this component grades them: answer regions, or unchanged."""
        return items if self.region is None else self.region.view(items)

    def head_index(self) -> int:
        """Index of ``head`` in the source's outputs (valid once the source is ready)."""
        names = getattr(self.source, "head_names", ["score"])
        return head_index(names, self.head)

    def describe(self) -> str:
        """Short label of the component's origin, for explanations."""
        if self.kind == "model":
            suffix = "" if self.spec.steps else f"[{self.head}]"
            return f"{self.source.name}{suffix}"
        if self.kind in ("rule", "judge"):
            return self.source.name
        if self.kind == "ensemble":
            return f"ensemble:{self.spec.ensemble.aggregate}"
        if self.kind == "group":
            return f"group:{self.spec.group.method}"
        route = self.spec.route
        return f"route:{route.field or 'classifier:' + route.classifier}"


def head_index(names: list[str], head: int | str) -> int:
    if isinstance(head, int):
        if not 0 <= head < len(names):
            raise ValueError(f"head {head} out of range (model has {len(names)})")
        return head
    if head not in names:
        raise ValueError(f"head {head!r} not among {names}")
    return names.index(head)


@dataclass(frozen=True)
class Pipeline:
    name: str
    description: str
    hash: str
    spec: PipelineSpec
    components: list[ComponentPlan]  # dependency order
    weights: dict[str, float]
    gates: list[tuple[Condition, tuple[str, ...], float]] = field(default_factory=list)
    constraints: list[tuple[Condition, float, str]] = field(default_factory=list)
    #: Sources of every pipeline reachable through routes (set by the runtime).
    reachable_sources: tuple[ScoreSource, ...] = ()

    @property
    def sources(self) -> list[ScoreSource]:
        """Sources this pipeline reads directly (leaves, route classifiers, fallback judges)."""
        found = [
            s for c in self.components for s in (c.source, c.classifier, c.fallback, c.pairs) if s is not None
        ]
        return list({s.name: s for s in found}.values())

    @property
    def required(self) -> set[str]:
        return {c.name for c in self.components if c.required}

    @functools.cached_property
    def needs_whole_groups(self) -> bool:
        """Group components (rewardgate/groups/) or transforms relative to the group mean:
        a group's samples must meet before it is scored. Routed sub-pipelines are set by the runtime."""
        return any(
            c.kind == "group" or any(getattr(t, "ref", None) == "group_mean" for t in c.spec.transform)
            for c in self.components
        )

    @functools.cached_property
    def has_second_round(self) -> bool:
        """Routes or fallback judges, which need the first round's outcomes."""
        return any(c.kind == "route" or c.fallback is not None for c in self.components)

    def component(self, name: str) -> ComponentPlan:
        return next(c for c in self.components if c.name == name)


def dependency_order(spec: PipelineSpec) -> list[str]:
    """Component names with every ensemble member before its ensemble (config is acyclic)."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for member in spec.components[name].inputs():
            visit(member)
        ordered.append(name)

    for name in spec.components:
        visit(name)
    return ordered


def stats_key(pipeline: str, component: str, spec: ComponentSpec, region: AnswerRegion | None = None) -> str:
    """Prefix of a component's running-statistics keys: it changes with the component's spec
    and with the answer region it grades (values over another region are another distribution)."""
    shown = spec.model_dump(mode="json")
    if region is not None:
        shown = {**shown, "graded_region": [region.think_tag, region.answer_tag]}
    return f"{pipeline}/{component}@{canonical_sha256(shown)[:16]}"
