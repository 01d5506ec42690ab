"""Builds and owns everything a configuration describes: sources (models
behind batchers, rules), the verifier pool, and resolved pipelines.

Models load in the background after start-up so ``/healthz`` answers at once;
``readiness`` reports what is not ready yet (or why it failed).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Callable
from dataclasses import replace

from rewardgate.algebra.functions import Condition
from rewardgate.algebra.running_stats import StatsStore
from rewardgate.config.pipeline_file import PipelineConfig, used_judges
from rewardgate.config.settings import Settings
from rewardgate.errors import PipelineNotFound
from rewardgate.observability.metrics import Metrics
from rewardgate.pipeline.failures import failure_value
from rewardgate.pipeline.plan import ComponentPlan, Pipeline, dependency_order, stats_key
from rewardgate.pipeline.regions import pipeline_regions
from rewardgate.pipeline.transforms import compile_transforms
from rewardgate.sources.base import ScoreSource, SourceKey
from rewardgate.sources.judge.client import JudgeClient
from rewardgate.sources.judge.source import JudgeSource
from rewardgate.sources.likelihood.source import LikelihoodSource
from rewardgate.sources.likelihood.triton_backend import LikelihoodTritonBackend
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.backends.triton import TritonBackend
from rewardgate.sources.model.backends.triton_vision import VisionTritonBackend
from rewardgate.sources.model.batching.batcher import DynamicBatcher
from rewardgate.sources.model.source import ModelSource
from rewardgate.sources.rule.base import warm_up_rules
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.source import RuleSource

log = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    """Move everything allocated so far out of the garbage collector's view.

    torch, transformers and loaded models leave ~10^5-10^6 long-lived objects;
    every full collection walked them all (about 0.1 s here), stalling the
    event loop at random. They live until exit anyway.
    """
    gc.collect()
    gc.freeze()


class ScoringRuntime:
    def __init__(
        self,
        config: PipelineConfig,
        settings: Settings,
        metrics: Metrics,
        on_judge_orders: Callable[[str, float, float], None] | None = None,
    ) -> None:
        """``on_judge_orders(judge, first, second)`` sees each pairwise judge verdict asked in both orders."""
        self.config = config
        self._metrics = metrics
        self._failures: dict[str, str] = {}
        self._loading: set[asyncio.Task] = set()
        components = [c for p in config.pipelines.values() for c in p.components.values()]
        used_rules = {c.rule for c in components if c.rule}
        used_models = {c.model for c in components if c.model} | {
            c.route.classifier for c in components if c.route and c.route.classifier
        }
        judges = used_judges(components)
        rules = {name: build_rule(config.rules[name].type, config.rules[name].params) for name in used_rules}
        isolated = tuple(rule for rule in rules.values() if rule.isolated)
        self.pool = (
            VerifierPool(
                settings.verifier_workers,
                settings.verifier_max_tasks_per_worker,
                functools.partial(warm_up_rules, isolated),
                on_restart=metrics.verifier_pool_restarts.inc,
            )
            if isolated
            else None
        )
        if self.pool is not None:
            metrics.verifier_workers.set(self.pool.workers)
            metrics.verifier_busy.set_function(lambda: self.pool.busy)
            metrics.verifier_queued.set_function(lambda: self.pool.queued)
        self.sources: dict[SourceKey, ScoreSource] = {}
        for name, rule in rules.items():
            key = SourceKey("rule", name)
            self.sources[key] = RuleSource(str(key), rule=rule, pool=self.pool, metrics=metrics)
        for name in used_models:
            self.sources[SourceKey("model", name)] = self._model_source(name, settings)
        for name in judges:
            spec, key = config.judges[name], SourceKey("judge", name)
            self.sources[key] = JudgeSource(
                str(key),
                spec=spec,
                client=JudgeClient(name, spec, metrics),
                on_orders=functools.partial(on_judge_orders, name) if on_judge_orders else None,
            )
        for source in self.sources.values():
            source.code_version  # noqa: B018 - computed at start-up, not by the first request
        self.stats = StatsStore(settings.state_path)
        self._save_interval_s = settings.state_save_interval_s
        self._saver: asyncio.Task | None = None
        self._supervisor: asyncio.Task | None = None
        pipelines = {name: self._pipeline(name) for name in config.pipelines}
        self.pipelines = {
            name: replace(
                pipeline,
                reachable_sources=tuple(
                    {
                        s.name: s for p in config.reachable_pipelines(name) for s in pipelines[p].sources
                    }.values()
                ),
            )
            for name, pipeline in pipelines.items()
        }

    def _model_source(self, name: str, settings: Settings) -> ModelSource:
        spec = self.config.models[name]
        if spec.backend == "triton":
            triton_class = {"likelihood": LikelihoodTritonBackend, "vision_reward_model": VisionTritonBackend}
            backend = triton_class.get(spec.kind, TritonBackend)(name, spec)
        else:
            backend = LocalBackend(name, spec)
        batcher = DynamicBatcher(
            name,
            backend.infer,
            max_batch_items=spec.batching.max_batch_items,
            max_batch_tokens=spec.batching.max_batch_tokens,
            max_wait_ms=spec.batching.max_wait_ms,
            max_concurrent_batches=spec.batching.max_concurrent_batches,
            overlap_partial_batches=spec.batching.overlap_partial_batches,
            max_queue_items=spec.batching.max_queue_items,
            retry_after_s=settings.overload_retry_after_s,
            observer=self._metrics.batch_observer(name),
        )
        source_class = LikelihoodSource if spec.kind == "likelihood" else ModelSource
        return source_class(str(SourceKey("model", name)), spec=spec, backend=backend, batcher=batcher)

    def _pipeline(self, name: str) -> Pipeline:
        spec = self.config.pipelines[name]
        weights = spec.effective_weights()
        regions = pipeline_regions(spec, self.config.rules)
        components = []
        for cname in dependency_order(spec):
            c = spec.components[cname]
            leaf = SourceKey.of_component(c)
            classifier = c.route.classifier if c.route else None
            key = stats_key(name, cname, c, regions[cname])
            source = self.sources[leaf] if leaf else None
            if c.model and c.on_failure is None and self.config.models[c.model].kind != "similarity":
                # A reward model refuses inputs past max_length (truncating would score another text).
                log.warning(
                    "pipelines.%s.components.%s: a response longer than model %r's max_length gets no "
                    "reward unless the component sets on_failure (docs/reward-algebra.md#failures)",
                    name,
                    cname,
                    c.model,
                )
            components.append(
                ComponentPlan(
                    name=cname,
                    spec=c,
                    source=source,
                    classifier=self.sources[SourceKey("model", classifier)] if classifier else None,
                    fallback=self.sources[SourceKey("judge", c.fallback.judge)] if c.fallback else None,
                    pairs=self.sources[SourceKey("judge", c.group.judge)]
                    if c.group and c.group.judge
                    else None,
                    weight=weights.get(cname, 0.0),
                    stats_key=key,
                    transforms=compile_transforms(c.transform, key),
                    region=regions[cname],
                    failure_value=failure_value(c, source, weights.get(cname, 0.0)),
                )
            )
        return Pipeline(
            name,
            spec.description,
            self.config.pipeline_hash(name),
            spec,
            components,
            weights,
            gates=[(Condition.parse(g.condition), tuple(g.components), g.otherwise) for g in spec.gates],
            constraints=[
                (Condition.parse(c.condition), c.reward, c.name or f"#{index}")
                for index, c in enumerate(spec.constraints)
            ],
        )

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start loading the models in the background, one after another.

        Sequential on purpose: parallel loads contend for the same memory and
        device, and transformers' lazy imports are not safe across threads.
        """
        models = [s for s in self.sources.values() if isinstance(s, ModelSource)]
        for source in models:
            self._metrics.model_ready.labels(source.name).set(0)
        freeze_startup_heap()
        if self.stats.path is not None:
            self._saver = asyncio.create_task(self._save_periodically(), name="save-running-stats")
        if models:
            self._track(asyncio.create_task(self._load_all(models), name="load-models"))
        if self.pool is not None:
            self._track(asyncio.create_task(self.pool.warm(), name="warm-verifier-pool"))
            self._supervisor = asyncio.create_task(self.pool.supervise(), name="supervise-verifier-pool")

    def _track(self, task: asyncio.Task) -> None:
        self._loading.add(task)
        task.add_done_callback(self._loading.discard)

    async def wait_loaded(self) -> None:
        if self._loading:
            await asyncio.gather(*self._loading, return_exceptions=True)

    async def _load_all(self, models: list[ModelSource]) -> None:
        for source in models:
            await self._load(source)
        freeze_startup_heap()

    async def _load(self, source: ModelSource) -> None:
        try:
            await source.start()
            self._check_heads(source)
        except Exception as exc:
            log.exception("loading %s failed", source.name)
            self._failures[source.name] = f"load failed: {type(exc).__name__}: {exc}"
            return
        log.info("%s ready (version %s)", source.name, source.version)
        self._metrics.model_ready.labels(source.name).set(1)

    def _check_heads(self, source: ModelSource) -> None:
        """Heads named by components, and route labels of classifiers, exist on the loaded model."""
        for pipeline in self.pipelines.values():
            for component in pipeline.components:
                key = f"pipelines.{pipeline.name}.components.{component.name}"
                if component.source is source and not component.scores_steps_at_once:
                    try:
                        component.head_index()
                    except ValueError as exc:
                        raise ValueError(f"{key}.head: {exc}") from exc
                if component.classifier is source:
                    unknown = set(component.spec.route.pipelines) - set(source.head_names)
                    if unknown:
                        raise ValueError(
                            f"{key}.route.pipelines: {sorted(unknown)} are not labels of "
                            f"{source.name} (labels: {source.head_names})"
                        )

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._save_interval_s)
            self.stats.save()

    async def close(self) -> None:
        for task in (self._saver, self._supervisor):
            if task is not None:
                task.cancel()
        self.stats.save()
        for task in list(self._loading):
            task.cancel()
        await asyncio.gather(*self._loading, return_exceptions=True)
        for source in self.sources.values():
            await source.close()
        if self.pool is not None:
            await asyncio.to_thread(self.pool.close)

    # ------------------------------------------------------------ queries

    def pipeline(self, name: str) -> Pipeline:
        try:
            return self.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.pipelines))
            raise PipelineNotFound(f"pipeline {name!r} is not declared (known: {known})") from None

    def source_problem(self, source: ScoreSource) -> str | None:
        """Why ``source`` cannot serve now, or None when it can."""
        if source.name in self._failures:
            return self._failures[source.name]
        return None if source.is_ready() else "not ready (loading, or its backend is unavailable)"

    def liveness_problem(self) -> str | None:
        """Why the process cannot recover by itself (a restart is needed), or None."""
        if self.pool is not None and not self.pool.recoverable:
            return f"the verifier pool could not be replaced {self.pool.failed_restarts} times in a row"
        return None

    def readiness(self) -> dict[str, str]:
        """Every source that is not ready, with the reason."""
        problems = {source.name: self.source_problem(source) for source in self.sources.values()}
        return {name: problem for name, problem in problems.items() if problem}
