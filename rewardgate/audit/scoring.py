"""The one adapter between the audit and whatever scores: swap the in-process entry here.

Today the in-process path is the one ``rewardgate eval`` uses
(:class:`rewardgate.eval.targets.InProcessTarget`: the service's own
core built from a pipeline file, no sockets); ``--url`` goes through the
Python client (:class:`~rewardgate.eval.targets.RemoteTarget`). Both
answer ``score(items, pipeline) -> list[ItemScore]``, one per item, in order.

:func:`component_kinds` tells which probe families apply: ``rule:TYPE``,
``judge:KIND``, ``model:KIND``, ``group:METHOD`` from the pipeline file in-process; only
``rule``/``judge``/``model``/``group`` from a running service (it does not publish rule
types), so every family for that kind runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rewardgate.errors import ConfigError
from rewardgate.eval.targets import ItemScore, ScoringTarget

__all__ = ["ItemScore", "ScoringTarget", "component_kinds", "open_target"]


class UnknownPipeline(ConfigError):
    """A pipeline the file or the service does not declare."""


class ServiceUnreachable(Exception):
    """``--url`` did not answer the pipelines listing (the client's error, retries spent)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def open_target(url: str | None, config: Path | None, timeout_s: float, batch_size: int):
    """An async context manager scoring through ``url``, or in this process from ``config``
    (default: the shipped pipeline file); returns ``(target, description)``."""
    if url:
        from rewardgate.eval.targets import RemoteTarget

        return RemoteTarget(url, timeout_s, batch_size), url
    from rewardgate.eval.targets import InProcessTarget

    settings = _settings(config)
    return InProcessTarget(settings, timeout_s), f"this process ({settings.config_path.name})"


def _settings(config: Path | None):
    from rewardgate.config.environment import load_settings

    overrides = {"config_path": config} if config else {}
    return load_settings({"grpc_port": 0, **overrides}, {"config_path": "--config"})


def component_kinds(url: str | None, config: Path | None, pipeline: str) -> set[str]:
    """The kinds of every component ``pipeline`` (and the sub-pipelines it routes to) scores with.

    Raises:
        UnknownPipeline: the pipeline is not declared.
        ConfigError: the pipeline file is broken.
        ServiceUnreachable: ``url`` did not answer.
    """
    if url:
        return asyncio.run(_remote_kinds(url, pipeline))
    from rewardgate.config.pipeline_file import load_config

    file = load_config(_settings(config).config_path)
    if pipeline not in file.pipelines:
        raise UnknownPipeline(
            f"no pipeline {pipeline!r} in the pipeline file (has: {', '.join(file.pipelines)})"
        )
    kinds: set[str] = set()
    for name in file.reachable_pipelines(pipeline):
        for component in file.pipelines[name].components.values():
            if component.rule:
                kinds.add(f"rule:{file.rules[component.rule].type}")
            if component.model:
                kinds.add(f"model:{file.models[component.model].kind}")
            if component.judge:
                kinds.add(f"judge:{file.judges[component.judge].kind}")
            if component.fallback:
                kinds.add(f"judge:{file.judges[component.fallback.judge].kind}")
            if component.group:
                kinds.add(f"group:{component.group.method}")
    return kinds


def group_views(url: str | None, config: Path | None, pipeline: str) -> tuple[str, tuple[str, ...]] | None:
    """``(view_field, views)`` of the pipeline's first view_agreement component (the audit gives a
    group's samples these views in turn), or None (none, or a running service: views unknown)."""
    if url:
        return None
    from rewardgate.config.pipeline_file import load_config

    file = load_config(_settings(config).config_path)
    for name in file.reachable_pipelines(pipeline):
        for component in file.pipelines[name].components.values():
            group = component.group
            if group is not None and group.method == "view_agreement" and group.views:
                return group.view_field, tuple(group.views)
    return None


def pairwise_judges(url: str | None, config: Path | None, pipeline: str) -> list[str]:
    """The pairwise judges ``pipeline`` (and its sub-pipelines) asks, components, fallbacks and
    tournaments, in file order; none from a running service (it returns only their combined verdicts)."""
    if url:
        return []
    from rewardgate.config.pipeline_file import load_config

    file = load_config(_settings(config).config_path)
    names: dict[str, None] = {}
    for name in file.reachable_pipelines(pipeline):
        for component in file.pipelines[name].components.values():
            tournament = component.group.judge if component.group else None
            for judge in (
                component.judge,
                component.fallback.judge if component.fallback else None,
                tournament,
            ):
                if judge and file.judges[judge].kind == "pairwise":
                    names.setdefault(judge)
    return list(names)


async def _remote_kinds(url: str, pipeline: str) -> set[str]:
    from rewardgate_client import AsyncRewardClient
    from rewardgate_client import RewardgateError as ClientError

    try:
        async with AsyncRewardClient(url, timeout_s=30) as client:
            declared = await client.pipelines()
    except ClientError as exc:
        raise ServiceUnreachable(f"{url}: {exc.error_type}: {exc.message}") from None
    for info in declared:
        if info.get("name") == pipeline:
            return {c.get("kind", "rule") for c in (info.get("components") or {}).values()} - {
                "ensemble",
                "route",
            } or {"rule", "judge", "model"}
    names = ", ".join(str(info.get("name")) for info in declared)
    raise UnknownPipeline(f"the service at {url} has no pipeline {pipeline!r} (has: {names})")
