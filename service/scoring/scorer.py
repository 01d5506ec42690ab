"""RewardScorer: the one entry point every transport calls.

It resolves and validates the request, admits it, runs the fan-out
(cache, deduplication, computation: service/scoring/fanout.py) under the
request deadline, and combines each item's component scores.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from service.errors import ComponentError, DeadlineExceeded, ServiceNotReady
from service.observability.metrics import Metrics
from service.schemas import ItemError, ScoreRequest, ScoreResponse, ScoreResult, Usage
from service.scoring.admission import AdmissionControl
from service.scoring.cache import ScoreCache
from service.scoring.combiner import decide
from service.scoring.fanout import Fanout, SourceOutcomes
from service.scoring.runtime import Pipeline, ScoringRuntime
from service.scoring.single_flight import SingleFlight
from service.scoring.validation import Limits, validate_request


@dataclass
class StageTimings:
    """Seconds per stage, for metrics and the x-*-time response headers."""

    queue_s: float = 0.0
    inference_s: float = 0.0
    total_s: float = 0.0


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
        self._fanout = Fanout(cache, SingleFlight(), metrics)
        self._metrics = metrics
        self._limits = limits
        self._admission = admission

    async def score(self, request: ScoreRequest) -> tuple[ScoreResponse, StageTimings]:
        """Score every item of ``request``.

        Raises:
            PipelineNotFound, InvalidInput, PayloadTooLarge: bad request.
            ServiceNotReady: a source of the pipeline is loading or failed.
            Overloaded: admission or a model queue refused the work.
            BackendUnavailable: a model backend (Triton) is down or refusing work.
            DeadlineExceeded: the request deadline passed.
        """
        started = time.monotonic()
        pipeline = self.runtime.pipeline(request.pipeline)
        validated = validate_request(request, self._limits)
        self._require_ready(pipeline)
        deadline = started + validated.deadline_s
        with self._admission.admit(len(validated.items)):
            try:
                async with asyncio.timeout(validated.deadline_s):
                    fanout = await self._fanout.run(
                        pipeline.sources, validated.items, deadline, request.options.cache
                    )
            except TimeoutError:
                raise DeadlineExceeded(
                    f"request deadline of {validated.deadline_s * 1000:.0f} ms passed"
                ) from None
        response = self._assemble(pipeline, validated.ids, fanout.by_source, request, fanout.tokens)
        timings = StageTimings(fanout.queue_s, fanout.inference_s, time.monotonic() - started)
        return response, timings

    def _require_ready(self, pipeline: Pipeline) -> None:
        for source in pipeline.sources:
            problem = self.runtime.source_problem(source)
            if problem:
                raise ServiceNotReady(f"{source.name} is not ready: {problem}")

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
