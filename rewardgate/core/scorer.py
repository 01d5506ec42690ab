"""RewardScorer: the score and compare operations behind the façade (core/facade.py).

It resolves and validates the request, admits it, and evaluates the
pipeline (rewardgate/pipeline/evaluator.py: fan-out to cache and sources, then
the reward algebra) under the request deadline.
"""

from __future__ import annotations

import asyncio
import math
import time
from operator import attrgetter

from rewardgate.algebra.explain import tracer_for
from rewardgate.algebra.functions import sigmoid
from rewardgate.auth.tenancy import tenant_scope
from rewardgate.core.admission import AdmissionControl
from rewardgate.core.calls import CallItem, CallOptions, CompareCall, ScoreCall
from rewardgate.core.group_assembler import GroupAssembler
from rewardgate.core.group_membership import partial_groups
from rewardgate.core.group_scoring import GroupScoring
from rewardgate.core.results import (
    CompareReply,
    ItemError,
    ItemResult,
    PairResult,
    ScoreReply,
    StageTimings,
    StepRewards,
    Usage,
)
from rewardgate.core.runtime import ScoringRuntime
from rewardgate.core.validation import Limits, validate_call
from rewardgate.eager import Eager
from rewardgate.errors import DeadlineExceeded, InvalidInput, ServiceNotReady
from rewardgate.groups.peers import Peers
from rewardgate.groups.stats import GroupStats
from rewardgate.items import ScoringItem
from rewardgate.media.parts import has_images
from rewardgate.observability.metrics import Metrics
from rewardgate.pipeline.evaluator import EvalContext, Evaluator, ScoredItem
from rewardgate.pipeline.plan import Pipeline
from rewardgate.reward_monitor.monitor import RewardMonitor
from rewardgate.sources.base import Spend
from rewardgate.store.cache import ScoreCache
from rewardgate.store.fanout import Fanout
from rewardgate.store.single_flight import SingleFlight

_RESPONSE = attrgetter("response")

#: Share of a request's budget its samples may wait for their groups; the rest is for scoring.
GROUP_WAIT_SHARE = 0.8


class RewardScorer:
    def __init__(
        self,
        runtime: ScoringRuntime,
        cache: ScoreCache,
        metrics: Metrics,
        limits: Limits,
        admission: AdmissionControl,
        monitor: RewardMonitor | None = None,
        assembler: GroupAssembler | None = None,
        group_stats: GroupStats | None = None,
        peers: Peers | None = None,
        peer_api_key: str | None = None,
    ) -> None:
        self._runtime = runtime
        #: Calls holding part of groups sent over several requests (core/group_scoring.py).
        self._groups = GroupScoring(
            self._evaluate,
            assembler if assembler is not None else GroupAssembler(wait_s=30.0, max_open=10_000),
            peers,
            peer_api_key,
        )
        #: Votes of group components (no-majority share, agreement) for /v1/stats and /metrics.
        self.group_stats = group_stats if group_stats is not None else GroupStats()
        self._whole_groups: dict[str, bool] = {}
        #: Sees every scored item (sliding-window reward statistics, rewardgate/reward_monitor/).
        self._monitor = monitor or RewardMonitor()
        self._fanout = Fanout(cache, SingleFlight(), metrics)
        self._metrics = metrics
        self._limits = limits
        self._admission = admission

    async def score(self, call: ScoreCall) -> tuple[ScoreReply, StageTimings]:
        """Score every item of ``call``.

        Raises:
            PipelineNotFound, InvalidInput, PayloadTooLarge: bad request.
            ServiceNotReady: a source of the pipeline is loading or failed.
            Overloaded: admission or a model queue refused the work.
            BackendUnavailable: a model backend (Triton) is down or refusing work.
            DeadlineExceeded: the request deadline passed.
        """
        started = time.monotonic()
        pipeline = self._runtime.pipeline(call.pipeline)
        if _has_images(call.items):
            # Decoding images costs milliseconds each: off the event loop, which serves every request.
            validated = await asyncio.to_thread(validate_call, call, self._limits)
        else:
            validated = validate_call(call, self._limits)
        options = call.options
        self._check_weights(pipeline, options.weights)
        self._require_ready(pipeline)
        deadline = started + validated.deadline_s
        groups = [entry.group for entry in call.items]
        partial = partial_groups(call.items)  # checked for every pipeline, assembled only where it matters
        if not self._needs_whole_groups(pipeline):
            partial = {}
        spent = Spend()
        #: Indices of samples another replica scored (and observes for monitoring).
        forwarded: set[int] = set()
        if partial:
            scored_items = await self._groups.score(
                pipeline, call, validated, partial, started, spent, forwarded
            )
        else:
            scored_items = await self._evaluate(pipeline, validated.items, groups, options, deadline, spent)
        results, statuses, cache_hits = self._results(validated.ids, scored_items, options)
        items = validated.items
        if forwarded:  # the owner replica counts them
            kept = [i for i in range(len(scored_items)) if i not in forwarded]
            items, scored_items, groups = ([seq[i] for i in kept] for seq in (items, scored_items, groups))
        self._observe_scored(pipeline.name, items, scored_items)
        self._monitor.observe(pipeline, items, scored_items, groups)
        if forwarded:  # the owner replica counts them
            statuses = {}
            for scored_item in scored_items:
                statuses[scored_item.status] = statuses.get(scored_item.status, 0) + 1
        for status, count in statuses.items():
            self._metrics.items.labels(pipeline.name, status).inc(count)
        response = ScoreReply(
            pipeline=pipeline.name,
            pipeline_hash=pipeline.hash,
            results=results,
            usage=Usage(
                items=len(results),
                cache_hits=cache_hits,
                model_tokens=spent.tokens,
                judge_tokens=spent.judge_tokens,
            ),
            versions={source.name: source.version for source in pipeline.reachable_sources},
        )
        timings = StageTimings(spent.queue_s, spent.inference_s, time.monotonic() - started)
        return response, timings

    async def _evaluate(
        self,
        pipeline: Pipeline,
        items: list[ScoringItem],
        groups: list[str | None],
        options: CallOptions,
        deadline: float,
        spent: Spend,
        incomplete: frozenset[str] = frozenset(),
    ) -> list[ScoredItem]:
        """One admitted evaluation of ``items`` by ``deadline``; what it cost is added to ``spent``."""
        deadline_s = max(deadline - time.monotonic(), 0.0)
        ctx = EvalContext(
            self._fanout,
            self._runtime.pipelines,
            self._runtime.stats,
            deadline,
            use_cache=options.cache,
            tracer=tracer_for(options.explain),
            score_input_failures=options.score_input_failures,
            cache_scope=tenant_scope(pipeline, "cache"),
            stats_scope=tenant_scope(pipeline, "statistics"),
            group_stats=self.group_stats,
            incomplete_groups=incomplete,
        )
        with self._admission.admit(len(items), pipeline.name, deadline_s) as ticket:
            evaluation = Eager(Evaluator(ctx).evaluate(pipeline, items, groups, options.weights))
            if evaluation.done:
                scored_items = evaluation.result()
            else:
                scored_items = await self._finish_by(evaluation, deadline, deadline_s)
            free = 0  # a loop, not a generator: once per item of every request
            for o in scored_items:
                if o.components and len(o.cached) == len(o.components):
                    free += 1
            ticket.free_items = free
        spent.add(ctx.spent)
        return scored_items

    def _needs_whole_groups(self, pipeline: Pipeline) -> bool:
        """Whether ``pipeline`` or a sub-pipeline it routes to reads whole groups (memoised)."""
        known = self._whole_groups.get(pipeline.name)
        if known is None:
            reachable = self._runtime.config.reachable_pipelines(pipeline.name)
            known = any(self._runtime.pipelines[name].needs_whole_groups for name in reachable)
            self._whole_groups[pipeline.name] = known
        return known

    async def compare(self, call: CompareCall) -> tuple[CompareReply, StageTimings]:
        """Score both responses of every pair and return ``P(a > b) = sigmoid(beta (r_a - r_b))``.

        The two responses of a pair form one group, so group-relative
        transforms compare them with each other. Raises what :meth:`score` raises.
        """
        ids = [pair.id if pair.id is not None else str(index) for index, pair in enumerate(call.pairs)]
        if len(set(ids)) != len(ids):
            raise InvalidInput("pairs[].id: ids must be unique within a request")
        options = call.options
        items = [
            CallItem(f"{pair_id}/{side}", item, group=f"pair:{pair_id}")
            for pair_id, pair in zip(ids, call.pairs, strict=True)
            for side, item in (("a", pair.item_a), ("b", pair.item_b))
        ]
        reply, timings = await self.score(ScoreCall(call.pipeline, items, options.for_items()))
        results = []
        for index, pair_id in enumerate(ids):
            a, b = reply.results[2 * index], reply.results[2 * index + 1]
            a.id, b.id = "a", "b"
            both = a.reward is not None and b.reward is not None
            statuses = {a.status, b.status}
            results.append(
                PairResult(
                    id=pair_id,
                    probability=sigmoid(options.beta * (a.reward - b.reward)) if both else None,
                    status="error" if "error" in statuses else "partial" if "partial" in statuses else "ok",
                    a=a,
                    b=b,
                )
            )
        response = CompareReply(
            pipeline=reply.pipeline, pipeline_hash=reply.pipeline_hash, results=results, usage=reply.usage
        )
        return response, timings

    @staticmethod
    async def _finish_by(
        evaluation: Eager[list[ScoredItem]], deadline: float, deadline_s: float
    ) -> list[ScoredItem]:
        """The rest of an evaluation that had to wait, cut off at the request deadline.

        Only work that waits can be cut off (a timer fires at a suspension), so the
        timer is armed only for it: most inline-rule and cached requests never wait.
        """
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                return await evaluation
        except TimeoutError:
            raise DeadlineExceeded(f"request deadline of {deadline_s * 1000:.0f} ms passed") from None

    @staticmethod
    def _check_weights(pipeline: Pipeline, weights: dict[str, float] | None) -> None:
        """The pipeline owns its reward: a request may set only the weights its pipeline declares
        ``overridable``, within their bounds (which also keep the arithmetic finite).

        Raises:
            InvalidInput: a weight the pipeline does not declare, or one outside its bounds.
        """
        if not weights:
            return
        unknown = sorted(set(weights) - {c.name for c in pipeline.components})
        if unknown:
            raise InvalidInput(f"options.weights: {unknown} are not components of pipeline {pipeline.name!r}")
        if not all(math.isfinite(w) for w in weights.values()):
            raise InvalidInput("options.weights: weights must be finite numbers")
        allowed = pipeline.spec.overridable.weights if pipeline.spec.overridable else {}
        fixed = sorted(set(weights) - set(allowed))
        if fixed:
            raise InvalidInput(
                f"options.weights.{fixed[0]}: pipeline {pipeline.name!r} does not let a request change "
                f"this weight (overridable.weights declares {sorted(allowed) or 'none'})"
            )
        for name, weight in sorted(weights.items()):  # one answer whatever order the map came in
            low, high = allowed[name]
            if not low <= weight <= high:
                raise InvalidInput(
                    f"options.weights.{name}: {weight:g} is outside [{low:g}, {high:g}], the bounds pipeline "
                    f"{pipeline.name!r} declares"
                )

    def _require_ready(self, pipeline: Pipeline) -> None:
        for source in pipeline.reachable_sources:
            problem = self._runtime.source_problem(source)
            if problem:
                raise ServiceNotReady(f"{source.name} is not ready: {problem}")

    def _observe_scored(self, pipeline: str, items, scored_items: list[ScoredItem]) -> None:
        """Rewards, response lengths, component errors, closed gates and violated constraints
        (early signs of reward hacking), one metric update per bucket or label, not per item."""
        metrics = self._metrics
        metrics.rewards.labels(pipeline).observe_many(
            [scored_item.reward for scored_item in scored_items if scored_item.reward is not None]
        )
        metrics.response_chars.labels(pipeline).observe_many(list(map(len, map(_RESPONSE, items))))
        for scored_item in scored_items:
            if not (scored_item.errors or scored_item.gated or scored_item.violated):
                continue
            for name, error in scored_item.errors.items():
                metrics.errors.labels(error.error_type, "component").inc()
                if name in scored_item.failed:
                    metrics.response_failures.labels(pipeline, name, error.error_type).inc()
            for component in scored_item.gated:
                metrics.gates_closed.labels(pipeline, component).inc()
            if scored_item.violated is not None:
                metrics.constraint_violations.labels(pipeline, scored_item.violated).inc()

    @classmethod
    def _results(
        cls, ids: list[str], scored_items: list[ScoredItem], options: CallOptions
    ) -> tuple[list[ItemResult], dict[str, int], int]:
        """Each item's result (:meth:`_result`), the items per status and the cached components
        of all, in one pass: an item without errors, steps or explanation to write (most) is
        built inline, the rest by :meth:`_result`."""
        results = []
        append = results.append
        statuses: dict[str, int] = {}
        cache_hits = 0
        plain = not (options.return_steps or options.explain)
        components = options.return_components
        for item_id, scored_item in zip(ids, scored_items, strict=True):
            status, cached = scored_item.status, scored_item.cached
            if plain and not scored_item.errors:
                append(
                    ItemResult(
                        item_id,
                        scored_item.reward,
                        status,
                        scored_item.components if components else None,
                        {},
                        cached,
                        None,
                        None,
                    )
                )
            else:
                append(cls._result(item_id, scored_item, options))
            statuses[status] = statuses.get(status, 0) + 1
            cache_hits += len(cached)
        return results, statuses, cache_hits

    @staticmethod
    def _result(item_id: str, scored_item: ScoredItem, options: CallOptions) -> ItemResult:
        steps = None
        if options.return_steps and scored_item.steps:
            steps = {
                name: StepRewards(rewards=d.rewards, deltas=d.deltas) for name, d in scored_item.steps.items()
            }
        explanation = None
        if options.explain and scored_item.explanation is not None:
            explanation = scored_item.explanation.to_dict()
        errors = scored_item.errors
        return ItemResult(  # positional, in ItemResult's field order: called once per item
            item_id,
            scored_item.reward,
            scored_item.status,
            scored_item.components if options.return_components else None,
            {name: ItemError(**error.to_item_error()) for name, error in errors.items()} if errors else {},
            scored_item.cached,
            steps,
            explanation,
        )


def _has_images(items: list[CallItem]) -> bool:
    """Whether any item has response images or image parts in its chat prompt."""
    for entry in items:
        item = entry.item
        if item.response_images or (isinstance(item.prompt, list) and has_images(item.prompt)):
            return True
    return False
