"""RewardScorer: the one entry point every transport calls.

For a validated request it looks up the cache per (source, item), computes
each distinct missing (source, item) once, fans out to all sources of the
pipeline concurrently, writes fresh scores back, and combines per item.
The whole computation runs under the request deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from service.errors import ComponentError, DeadlineExceeded, ServiceNotReady
from service.items import ScoringItem
from service.observability.metrics import Metrics
from service.schemas import ItemError, ScoreRequest, ScoreResponse, ScoreResult, Usage
from service.scoring.admission import AdmissionControl
from service.scoring.cache import ScoreCache, cache_key
from service.scoring.combiner import decide
from service.scoring.runtime import Pipeline, ScoringRuntime
from service.scoring.sources import Outcome, ScoreSource
from service.scoring.validation import Limits, validate_request

log = logging.getLogger(__name__)


@dataclass
class StageTimings:
    """Seconds per stage, for metrics and the x-*-time response headers."""

    queue_s: float = 0.0
    inference_s: float = 0.0
    total_s: float = 0.0


@dataclass
class SourceOutcomes:
    outcomes: list[Outcome]
    cached: list[bool]


class RewardScorer:
    def __init__(
        self,
        runtime: ScoringRuntime,
        cache: ScoreCache,
        metrics: Metrics,
        limits: Limits,
        admission: AdmissionControl,
    ) -> None:
        self.runtime = runtime
        self._cache = cache
        self._metrics = metrics
        self._limits = limits
        self._admission = admission

    async def score(self, request: ScoreRequest) -> tuple[ScoreResponse, StageTimings]:
        """Score every item of ``request``.

        Raises:
            PipelineNotFound, InvalidInput, PayloadTooLarge: bad request.
            ServiceNotReady: a source of the pipeline is loading or failed.
            Overloaded: admission or a model queue refused the work.
            DeadlineExceeded: the request deadline passed.
        """
        started = time.monotonic()
        pipeline = self.runtime.pipeline(request.pipeline)
        validated = validate_request(request, self._limits)
        self._require_ready(pipeline)
        timings = StageTimings()
        deadline = started + validated.deadline_s
        with self._admission.admit(len(validated.items)):
            try:
                async with asyncio.timeout(validated.deadline_s):
                    outcomes, tokens = await self._run_sources(
                        pipeline, validated.items, deadline, request.options.cache, timings
                    )
            except TimeoutError:
                raise DeadlineExceeded(
                    f"request deadline of {validated.deadline_s * 1000:.0f} ms passed"
                ) from None
        response = self._assemble(pipeline, validated.ids, outcomes, request, tokens)
        timings.total_s = time.monotonic() - started
        return response, timings

    def _require_ready(self, pipeline: Pipeline) -> None:
        for source in pipeline.sources:
            problem = self.runtime.source_problem(source)
            if problem:
                raise ServiceNotReady(f"{source.name} is not ready: {problem}")

    async def _run_sources(
        self,
        pipeline: Pipeline,
        items: list[ScoringItem],
        deadline: float,
        use_cache: bool,
        timings: StageTimings,
    ) -> tuple[dict[str, SourceOutcomes], int]:
        sources = pipeline.sources
        keys = {s.name: [cache_key(s.fingerprint(), s.reads, item) for item in items] for s in sources}
        cached = await self._lookup(keys) if use_cache else {}
        results = await asyncio.gather(
            *(self._compute_source(s, items, keys[s.name], cached, deadline) for s in sources)
        )
        outcomes: dict[str, SourceOutcomes] = {}
        fresh: dict[str, list[float]] = {}
        tokens = 0
        for source, (source_outcomes, computed) in zip(sources, results, strict=True):
            outcomes[source.name] = source_outcomes
            tokens += computed.tokens
            timings.queue_s = max(timings.queue_s, computed.queue_s)
            timings.inference_s = max(timings.inference_s, computed.inference_s)
            fresh.update(computed.fresh)
        if use_cache and fresh:
            await self._store(fresh)
        return outcomes, tokens

    async def _compute_source(
        self,
        source: ScoreSource,
        items: list[ScoringItem],
        keys: list[str],
        cached: dict[str, list[float]],
        deadline: float,
    ) -> tuple[SourceOutcomes, _Computed]:
        hits = [key in cached for key in keys]
        self._metrics.cache.labels(source.name, "hit").inc(sum(hits))
        # Identical items (same key) are computed once.
        todo: dict[str, ScoringItem] = {}
        for key, item, hit in zip(keys, items, hits, strict=True):
            if not hit:
                todo.setdefault(key, item)
        self._metrics.cache.labels(source.name, "miss").inc(len(keys) - sum(hits))
        computed = _Computed()
        by_key: dict[str, Outcome] = dict(cached)
        if todo:
            result = await source.compute(list(todo.values()), deadline)
            computed.tokens, computed.queue_s, computed.inference_s = (
                result.tokens,
                result.queue_s,
                result.inference_s,
            )
            for key, outcome in zip(todo, result.outcomes, strict=True):
                by_key[key] = outcome
                if not isinstance(outcome, ComponentError):
                    computed.fresh[key] = outcome
        return SourceOutcomes([by_key[key] for key in keys], hits), computed

    async def _lookup(self, keys: dict[str, list[str]]) -> dict[str, list[float]]:
        flat = list(dict.fromkeys(key for source_keys in keys.values() for key in source_keys))
        try:
            values = await self._cache.get_many(flat)
        except Exception:
            log.warning("score cache lookup failed; treating as misses", exc_info=True)
            return {}
        return {key: value for key, value in zip(flat, values, strict=True) if value is not None}

    async def _store(self, fresh: dict[str, list[float]]) -> None:
        try:
            await self._cache.set_many(fresh)
        except Exception:
            log.warning("score cache write failed; continuing", exc_info=True)

    def _assemble(
        self,
        pipeline: Pipeline,
        ids: list[str],
        outcomes: dict[str, SourceOutcomes],
        request: ScoreRequest,
        tokens: int,
    ) -> ScoreResponse:
        results = [
            self._item_result(pipeline, index, item_id, outcomes, request.options.return_components)
            for index, item_id in enumerate(ids)
        ]
        hits = sum(len(r.cached) for r in results)
        return ScoreResponse(
            pipeline=pipeline.name,
            pipeline_hash=pipeline.hash,
            results=results,
            usage=Usage(items=len(ids), cache_hits=hits, model_tokens=tokens),
            versions={source.name: source.version for source in pipeline.sources},
        )

    def _item_result(
        self,
        pipeline: Pipeline,
        index: int,
        item_id: str,
        outcomes: dict[str, SourceOutcomes],
        return_components: bool,
    ) -> ScoreResult:
        values: dict[str, float] = {}
        errors: dict[str, ComponentError] = {}
        cached: list[str] = []
        for component in pipeline.components:
            source_outcomes = outcomes[component.source.name]
            outcome = source_outcomes.outcomes[index]
            if isinstance(outcome, ComponentError):
                errors[component.name] = outcome
                self._metrics.errors.labels(outcome.error_type, "component").inc()
                continue
            values[component.name] = outcome[component.head_index()]
            if source_outcomes.cached[index]:
                cached.append(component.name)
        verdict = decide(values, errors, pipeline.required, pipeline.combiner)
        self._metrics.items.labels(pipeline.name, verdict.status).inc()
        if verdict.reward is not None:
            self._metrics.rewards.labels(pipeline.name).observe(verdict.reward)
        return ScoreResult(
            id=item_id,
            reward=verdict.reward,
            status=verdict.status,
            components=values if return_components else None,
            errors={name: ItemError(**error.to_item_error()) for name, error in errors.items()},
            cached=cached,
        )


@dataclass
class _Computed:
    """What computing one source's misses produced (for usage, timings, cache writes)."""

    tokens: int = 0
    queue_s: float = 0.0
    inference_s: float = 0.0
    fresh: dict[str, list[float]] = field(default_factory=dict)
