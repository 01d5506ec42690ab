"""Pipeline configuration: YAML -> validated, cross-checked models.

The file declares ``models``, ``rules`` and ``pipelines``. Loading fails with
:class:`~rewardgate.errors.ConfigError` whose message names every bad key by its
dotted path (``pipelines.math.components.rm.model``) and says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rewardgate.algebra.spec import CombineSpec
from rewardgate.config.checks import Declared, reference_problems
from rewardgate.config.problems import model_path_problems, rule_problems, validation_problems
from rewardgate.config.specs import (
    NAME_PATTERN,
    ComponentSpec,
    PipelineConfig,
    PipelineSpec,
    RuleSpec,
    used_judges,
)
from rewardgate.errors import ConfigError
from rewardgate.hashing import canonical_sha256
from rewardgate.sources.judge.spec import JudgeSpec
from rewardgate.sources.model.spec import BatchingSpec, ModelSpec

# Kept importable from here, where callers have always found them.
__all__ = [
    "NAME_PATTERN",
    "BatchingSpec",
    "ComponentSpec",
    "ModelSpec",
    "PipelineConfig",
    "PipelineSpec",
    "RuleSpec",
    "canonical_sha256",
    "load_config",
    "parse_config",
    "used_judges",
]


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
