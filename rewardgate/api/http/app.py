"""Application factory. Nothing is built at import time.

``create_app(settings)`` validates the pipeline file immediately (a broken
config fails start-up with a message naming the key), and the lifespan builds
the runtime (verifier pool, models loading in the background), cache and
scorer, and closes them on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rewardgate import __version__
from rewardgate.api.grpc.server import start_grpc_server, stop_grpc_server
from rewardgate.api.http import health, scoring_declarations, stats
from rewardgate.api.http import routes as http
from rewardgate.api.http.auth import AuthMiddleware
from rewardgate.api.http.body_limit import BodyLimitMiddleware
from rewardgate.api.http.context import AppContext
from rewardgate.api.http.docs import ASSETS, DOC_PAGES, install_offline_docs
from rewardgate.api.http.edge import Guard, RewardgateApp
from rewardgate.api.http.errors import InternalErrorMiddleware, install_error_handlers
from rewardgate.api.http.request_count import RequestCountingMiddleware
from rewardgate.auth.keys import KeyRing
from rewardgate.config.pipeline_file import PipelineConfig, load_config
from rewardgate.config.settings import Settings
from rewardgate.core.admission import AdmissionControl
from rewardgate.core.runtime import ScoringRuntime
from rewardgate.core.scorer import RewardScorer
from rewardgate.core.validation import Limits
from rewardgate.groups.assembler import GroupAssembler
from rewardgate.groups.peers import Peers
from rewardgate.groups.stats import GroupStats, GroupStatsCollector
from rewardgate.observability.metrics import Metrics
from rewardgate.reward_monitor.exporter import MonitorCollector
from rewardgate.reward_monitor.monitor import RewardMonitor
from rewardgate.store.cache import InMemoryScoreCache, NullScoreCache, ScoreCache


def build_cache(settings: Settings, metrics: Metrics) -> ScoreCache:
    """Redis when ``redis_url`` is set, else in memory (or none when capacity is 0)."""
    ttls = {
        "model": settings.cache_model_ttl_s,
        "rule": settings.cache_rule_ttl_s,
        "judge": settings.cache_judge_ttl_s,
    }
    if settings.redis_url:
        from rewardgate.store.redis_cache import RedisScoreCache

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


def group_observer(metrics: Metrics):
    """The assembler's metrics: groups open now, and each dropped group's outcome."""

    def observe(pipeline: str | None, complete: bool | None, open_groups: int) -> None:
        metrics.groups_open.set(open_groups)
        if pipeline is not None:
            metrics.groups_assembled.labels(pipeline, "complete" if complete else "incomplete").inc()

    return observe


def create_app(settings: Settings, config: PipelineConfig | None = None) -> RewardgateApp:
    """Build the FastAPI app. Raises ConfigError for an invalid pipeline file or key ring."""
    config = config or load_config(settings.config_path)
    keyring = KeyRing.load(settings.api_keys, settings.api_keys_file)
    metrics = Metrics()
    monitor = RewardMonitor(
        settings.monitor_window_items, settings.monitor_window_s, settings.monitor_min_items
    )
    metrics.registry.register(MonitorCollector(monitor))
    group_stats = GroupStats()
    metrics.registry.register(GroupStatsCollector(group_stats))

    @asynccontextmanager
    async def lifespan(app: RewardgateApp) -> AsyncIterator[None]:
        app.openapi()  # built (and cached) now, not at a request: the request counter reads its paths
        if settings.model_threads:
            import torch

            torch.set_num_threads(settings.model_threads)
        runtime = ScoringRuntime(config, settings, metrics, on_judge_orders=monitor.judge_orders)
        cache = build_cache(settings, metrics)
        await cache.check_reachable()  # a WARNING at start when Redis does not answer
        limits = Limits(
            max_items_per_request=settings.max_items_per_request,
            max_text_chars=settings.max_text_chars,
            default_deadline_ms=settings.default_deadline_ms,
            max_deadline_ms=settings.max_deadline_ms,
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
        assembler = GroupAssembler(
            settings.group_wait_ms / 1000,
            settings.group_max_open,
            observer=group_observer(metrics),
        )
        scorer = RewardScorer(runtime, cache, metrics, limits, admission, monitor, assembler, group_stats)
        if settings.group_peers:
            scorer.peers = Peers(settings.group_peers, settings.port, settings.group_self)
            scorer.peer_api_key = settings.group_peer_api_key
        app.state.context = AppContext(settings=settings, metrics=metrics, scorer=scorer)
        runtime.start()
        grpc_stopped: list[asyncio.Future] = []
        try:
            if settings.grpc_port:
                grpc_server = await start_grpc_server(
                    app.state.context, settings.grpc_port, settings.host, settings.max_body_bytes, keyring
                )
                app.state.context.drain_hooks.append(
                    lambda: grpc_stopped.append(stop_grpc_server(grpc_server, settings.drain_grace_s))
                )
            yield
        finally:
            app.state.context.begin_drain()  # a no-op when SIGTERM already began it
            for stopped in grpc_stopped:
                await stopped
            await runtime.close()
            await cache.close()

    app = RewardgateApp(
        title="rewardgate",
        version=__version__,
        description="Reward serving for RL post-training: models, rules and pipelines.",
        lifespan=lifespan,
        docs_url=None,  # the CDN-backed pages; install_offline_docs serves them from this process
        redoc_url=None,
    )
    record_error = lambda t: metrics.errors.labels(t, "request").inc()  # noqa: E731
    install_error_handlers(app, on_error=record_error)
    # What every HTTP request passes, innermost first: the body limit; API keys (outside the
    # body limit: strangers are refused before their body is read); the last-resort envelope.
    guards: list[Guard] = [(BodyLimitMiddleware, {"max_body_bytes": settings.max_body_bytes})]
    if keyring.enabled:
        on_failure = lambda reason: metrics.auth_failures.labels("http", reason).inc()  # noqa: E731
        guards.append(
            (
                AuthMiddleware,
                {"keyring": keyring, "metrics_open": settings.auth_metrics_open, "on_failure": on_failure},
            )
        )
    guards.append((InternalErrorMiddleware, {"record": record_error}))
    guards.append((RequestCountingMiddleware, {"metrics": metrics, "routes": lambda: route_paths(app)}))
    app.serve_scoring_routes(guards, on_error=record_error)
    app.include_router(http.router)
    app.include_router(scoring_declarations.router)
    app.include_router(stats.router)
    app.include_router(health.router)
    install_offline_docs(app)
    return app


def route_paths(app: RewardgateApp) -> tuple[frozenset[str], tuple[str, ...]]:
    """The paths ``app`` serves, and the prefixes of its mounts (for the request counter's labels):
    every path of its schema, the schema itself and the documentation pages with their assets."""
    paths = set(app.openapi()["paths"]) | {app.openapi_url, *DOC_PAGES}
    return frozenset(paths), (ASSETS + "/",)
