"""RewardCore: the core's one front door.

Every caller (the HTTP and gRPC transports, the CLI's in-process eval, the
benches and the tests) holds a :class:`RewardCore` and nothing behind it.
It offers the operations a caller needs and no more: score and compare,
the declared pipelines, the reward monitor's statistics and the group votes, liveness and
readiness, and the drain. It is built outside any web framework by
``rewardgate.assembly.build_core(settings, config)``.

Lifecycle: ``await core.start()`` (checks the cache, starts loading models
in the background), then calls, then ``begin_drain()`` (readiness says so at
once; the hooks registered with :meth:`on_drain` stop the transports' intake)
and ``await core.close()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rewardgate.core.calls import CompareCall, ScoreCall
from rewardgate.core.results import CompareReply, ComponentInfo, PipelineInfo, ScoreReply, StageTimings
from rewardgate.core.runtime import ScoringRuntime
from rewardgate.core.scorer import RewardScorer
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.reward_monitor.monitor import RewardMonitor
from rewardgate.reward_monitor.snapshot import MonitorSnapshot
from rewardgate.sources.base import SourceKey
from rewardgate.sources.judge.source import JudgeSource
from rewardgate.store.cache import ScoreCache

DRAINING = "draining: shutting down, finishing work in flight"


class RewardCore:
    """Score, compare, describe, report and drain; owns what it was built from and closes it."""

    def __init__(
        self,
        runtime: ScoringRuntime,
        scorer: RewardScorer,
        monitor: RewardMonitor,
        cache: ScoreCache,
        metrics: Metrics,
    ) -> None:
        #: The registry every part of this core reports to (``/metrics`` renders it).
        self.metrics = metrics
        self._runtime = runtime
        self._scorer = scorer
        self._monitor = monitor
        self._cache = cache
        self._drain_hooks: list[Callable[[], None]] = []
        #: True from the moment shutdown begins: readiness says so at once.
        self.draining = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Check the cache (a WARNING when Redis does not answer) and start loading the models."""
        await self._cache.check_reachable()
        self._runtime.start()

    async def wait_loaded(self) -> None:
        """Until every model has loaded or failed (tests, benches, the in-process eval)."""
        await self._runtime.wait_loaded()

    def on_drain(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` once when draining begins (a transport stops taking work there)."""
        self._drain_hooks.append(hook)

    def begin_drain(self) -> None:
        """Stop taking work on every transport; work in flight continues (idempotent)."""
        if self.draining:
            return
        self.draining = True
        for hook in self._drain_hooks:
            hook()

    async def close(self) -> None:
        """Stop background work, save running statistics, close sources, pool and cache."""
        await self._runtime.close()
        await self._cache.close()

    # ------------------------------------------------------------ calls

    async def score(self, call: ScoreCall) -> tuple[ScoreReply, StageTimings]:
        """Score every item of ``call``; raises the request errors of rewardgate/errors.py."""
        return await self._scorer.score(call)

    async def compare(self, call: CompareCall) -> tuple[CompareReply, StageTimings]:
        """Score both responses of every pair; ``P(a > b)`` per pair. Raises what :meth:`score` raises."""
        return await self._scorer.compare(call)

    async def pairwise_orders(self, judge: str, item: ScoringItem, deadline: float) -> tuple[float, float]:
        """The pairwise judge ``judge``'s verdicts on ``item`` in both orders, apart
        (:meth:`rewardgate.sources.judge.source.JudgeSource.orders`): what ``rewardgate audit``
        measures position bias with. Raises ValueError for a judge that is not declared or not
        pairwise, and what the judge raises."""
        source = self._runtime.sources.get(SourceKey("judge", judge))
        if not isinstance(source, JudgeSource):
            raise ValueError(f"no judge {judge!r} in the pipeline file")
        return await source.orders(item, deadline)

    # ------------------------------------------------------------ pipelines

    def knows(self, pipeline: str) -> bool:
        """Whether ``pipeline`` is declared (a metric label falls back to ``unknown`` otherwise)."""
        return pipeline in self._runtime.pipelines

    def require(self, pipelines: Sequence[str]) -> None:
        """Raise PipelineNotFound (404) for the first undeclared name, as a score call would."""
        for name in pipelines:
            self._runtime.pipeline(name)

    def pipelines(self) -> list[PipelineInfo]:
        """Every declared pipeline with its components and readiness."""
        runtime = self._runtime
        return [
            PipelineInfo(
                name=p.name,
                description=p.description,
                hash=p.hash,
                ready=all(runtime.source_problem(s) is None for s in p.reachable_sources),
                components={
                    c.name: ComponentInfo(
                        kind=c.kind,
                        # A tournament's judge is its source too.
                        source=(c.source or c.pairs).name if (c.source or c.pairs) else None,
                        head=c.head,
                        required=c.required,
                        weight=c.weight,
                        transforms=[t.type for t in c.spec.transform],
                        group_relative=any(getattr(t, "ref", None) == "group_mean" for t in c.spec.transform),
                    )
                    for c in p.components
                },
            )
            for p in runtime.pipelines.values()
        ]

    # ------------------------------------------------------------ reward statistics

    def stats(self) -> MonitorSnapshot:
        """The reward monitor's sliding-window statistics (docs/monitoring.md)."""
        return self._monitor.snapshot()

    def group_stats(self) -> dict[str, dict[str, dict]]:
        """Per pipeline, per group component: the votes counted since start-up (groups voted on,
        no-majority share, agreement; docs/groups.md#monitoring)."""
        return {name: self._scorer.group_stats.snapshot(name) for name in self._runtime.pipelines}

    def pin_reference(self, pipelines: Sequence[str] | None = None) -> list[str]:
        """Pin the current windows as drift references; the pipelines pinned (those with items)."""
        return self._monitor.pin_reference(pipelines)

    def unpin_reference(self, pipelines: Sequence[str] | None = None) -> None:
        """Measure drift against the previous window again."""
        self._monitor.unpin_reference(pipelines)

    # ------------------------------------------------------------ health

    def liveness_problem(self) -> str | None:
        """Why the process cannot recover by itself (a restart is needed), or None."""
        return self._runtime.liveness_problem()

    def readiness(self) -> dict[str, str]:
        """Everything not ready, with the reason (empty when ready); draining counts."""
        problems = self._runtime.readiness()
        return {**problems, "service": DRAINING} if self.draining else problems
