"""``build_core(settings, config)``: a :class:`~rewardgate.core.facade.RewardCore` from its parts.

The one place that knows how the core is put together: the runtime
(sources, verifier pool, resolved pipelines), the score cache, limits
(with the image policy), admission control, the reward monitor, the group
assembler (with the replicas groups are spread over) and the scorer. Transports, the CLI,
benches and tests call it and keep only the façade it returns. Nothing
here touches a web framework, so ``rewardgate eval`` scores in-process
without building an app.
"""

from __future__ import annotations

from rewardgate.config.pipeline_file import PipelineConfig, load_config
from rewardgate.config.settings import Settings
from rewardgate.core.admission import AdmissionControl
from rewardgate.core.facade import RewardCore
from rewardgate.core.group_assembler import GroupAssembler
from rewardgate.core.runtime import ScoringRuntime
from rewardgate.core.scorer import RewardScorer
from rewardgate.core.validation import Limits
from rewardgate.groups.peers import Peers
from rewardgate.groups.stats import GroupStats, GroupStatsCollector
from rewardgate.media.decode import ImageLimits
from rewardgate.media.fetch import UrlPolicy
from rewardgate.media.parts import ImagePolicy
from rewardgate.observability.metrics import Metrics
from rewardgate.reward_monitor.exporter import MonitorCollector
from rewardgate.reward_monitor.monitor import RewardMonitor
from rewardgate.sources.likelihood.source import LikelihoodSource
from rewardgate.store.cache import InMemoryScoreCache, NullScoreCache, ScoreCache


def build_cache(settings: Settings, metrics: Metrics) -> ScoreCache:
    """Redis when ``redis_url`` is set, else in memory (or none when capacity is 0)."""
    ttls = {
        "model": settings.cache_model_ttl_s,
        "rule": settings.cache_rule_ttl_s,
        "judge": settings.cache_judge_ttl_s,
    }
    if settings.redis_url:
        from rewardgate.store.redis_cache import RedisScoreCache  # redis only when configured

        return RedisScoreCache(
            settings.redis_url,
            ttl_s_by_kind=ttls,
            metrics=metrics,
            namespace=settings.redis_namespace,
            timeout_s=settings.redis_timeout_ms / 1000,
            breaker_failures=settings.redis_breaker_failures,
            breaker_reset_s=settings.redis_breaker_reset_s,
            max_pending_writes=settings.redis_max_pending_writes,
        )
    if settings.cache_max_entries == 0:
        return NullScoreCache()
    return InMemoryScoreCache(settings.cache_max_entries, ttls)


def image_policy(settings: Settings) -> ImagePolicy:
    """The image policy the settings declare (``REWARDGATE_*IMAGE*``): limits, file root, URL hosts."""
    return ImagePolicy(
        ImageLimits(
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            max_frames=settings.max_image_frames,
            max_images_per_item=settings.max_images_per_item,
        ),
        root=str(settings.image_root) if settings.image_root is not None else None,
        urls=UrlPolicy(
            hosts=frozenset(h.strip().lower() for h in settings.image_url_hosts.split(",") if h.strip()),
            allow_private=settings.image_url_allow_private,
            timeout_s=settings.image_fetch_timeout_s,
        ),
    )


def group_observer(metrics: Metrics):
    """The assembler's metrics: groups open now, and each dropped group's outcome."""

    def observe(pipeline: str | None, complete: bool | None, open_groups: int) -> None:
        metrics.groups_open.set(open_groups)
        if pipeline is not None:
            metrics.groups_assembled.labels(pipeline, "complete" if complete else "incomplete").inc()

    return observe


def build_core(
    settings: Settings,
    config: PipelineConfig | None = None,
    *,
    metrics: Metrics | None = None,
    monitor: RewardMonitor | None = None,
) -> RewardCore:
    """The core for ``config`` (default: the pipeline file ``settings`` names).

    ``metrics`` is the registry to report to (a fresh one by default; the HTTP
    app passes its own, which its middleware already counts into). ``monitor``
    replaces the reward monitor the settings describe (benches compare an idle
    one). Nothing starts yet: call ``await core.start()`` inside the event loop
    that will serve. Raises ConfigError for an invalid pipeline file.
    """
    config = config or load_config(settings.config_path)
    metrics = metrics or Metrics()
    if settings.model_threads:
        import torch  # only where a thread count is asked for: torch is a heavy import

        torch.set_num_threads(settings.model_threads)
    if monitor is None:
        monitor = RewardMonitor(
            settings.monitor_window_items, settings.monitor_window_s, settings.monitor_min_items
        )
        metrics.registry.register(MonitorCollector(monitor))
    runtime = ScoringRuntime(config, settings, metrics, on_judge_orders=monitor.judge_orders)
    for source in runtime.sources.values():
        # Likelihood sources report their token statistics to the monitor (docs/monitoring.md).
        if isinstance(source, LikelihoodSource):
            source.recorder = monitor.likelihood_recorder(source.name)
    cache = build_cache(settings, metrics)
    limits = Limits(
        max_items_per_request=settings.max_items_per_request,
        max_text_chars=settings.max_text_chars,
        default_deadline_ms=settings.default_deadline_ms,
        max_deadline_ms=settings.max_deadline_ms,
        images=image_policy(settings),
    )
    admission = AdmissionControl(
        settings.max_inflight_items,
        settings.overload_retry_after_s,
        metrics.inflight_items,
        deadline_fraction=settings.admission_deadline_fraction,
        probe_items=settings.admission_probe_items,
        throughput_gauge=metrics.pipeline_throughput,
    )
    metrics.inflight_limit.set(settings.max_inflight_items)
    group_stats = GroupStats()
    metrics.registry.register(GroupStatsCollector(group_stats))
    assembler = GroupAssembler(
        settings.group_wait_ms / 1000,
        settings.group_max_open,
        observer=group_observer(metrics),
    )
    peers = Peers(settings.group_peers, settings.port, settings.group_self) if settings.group_peers else None
    scorer = RewardScorer(
        runtime,
        cache,
        metrics,
        limits,
        admission,
        monitor,
        assembler,
        group_stats,
        peers=peers,
        peer_api_key=settings.group_peer_api_key if peers else None,
    )
    return RewardCore(runtime, scorer, monitor, cache, metrics)
