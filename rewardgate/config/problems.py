"""Problems of a pipeline file found on its raw YAML, independently of its schema.

Each check reads the parsed YAML (plain dicts and lists) rather than the
validated models, so it runs even when the schema has errors elsewhere: one
start-up reports schema errors, rule-parameter errors and missing model
directories together. Every problem is a ``dotted.key: reason`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rewardgate.sources.rule.registry import RULE_TYPES, build_rule


def validation_problems(exc: ValidationError, prefix: str = "") -> list[str]:
    """One ``dotted.key: message`` line per pydantic error, keys under ``prefix``."""
    lines = []
    for error in exc.errors():
        parts = ([prefix] if prefix else []) + [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{'.'.join(parts) or '<root>'}: {message}")
    return lines


def rule_problems(raw_rules: Any) -> list[str]:
    """Parameter problems of each rule whose ``type`` is a string (the schema reports the others)."""
    problems = []
    for name, spec in _entries(raw_rules):
        rule_type = spec.get("type")
        if not isinstance(rule_type, str):
            continue
        if rule_type not in RULE_TYPES:
            known = ", ".join(sorted(RULE_TYPES))
            problems.append(f"rules.{name}.type: unknown rule type {rule_type!r} (known: {known})")
            continue
        params = {key: value for key, value in spec.items() if key != "type"}
        try:
            build_rule(rule_type, params)
        except ValidationError as exc:
            problems += validation_problems(exc, f"rules.{name}")
        except ValueError as exc:
            problems.append(f"rules.{name}: {exc}")
    return problems


def model_path_problems(raw_models: Any) -> list[str]:
    """A local model's ``path`` must be a model directory (with its ``config.json``) now.

    Without this check the service would start and answer 503 for the
    pipeline forever, with the loader's unrelated message (Hugging Face reads
    a missing directory as a hub repository name). Models on Triton are not
    checked: their weights are on the Triton server.
    """
    problems = []
    for name, spec in _entries(raw_models):
        path = spec.get("path")
        if spec.get("backend", "local") != "local" or not isinstance(path, str) or not path:
            continue
        problem = model_directory_problem(path)
        if problem:
            problems.append(f"models.{name}.path: {problem}")
    return problems


def model_directory_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a Hugging Face model directory (one with a ``config.json``), or None."""
    directory = Path(path).expanduser()
    shown = str(path) if directory.is_absolute() else f"{path} (relative to {Path.cwd()})"
    if not directory.exists():
        return f"no such directory: {shown}"
    if not directory.is_dir():
        return f"not a directory: {shown}"
    if not (directory / "config.json").is_file():
        return f"no config.json in {shown} (not a Hugging Face model directory)"
    return None


def _entries(section: Any) -> list[tuple[str, dict]]:
    """The ``name: mapping`` entries of a section (the schema reports anything else)."""
    if not isinstance(section, dict):
        return []
    return [(str(name), spec) for name, spec in section.items() if isinstance(spec, dict)]
