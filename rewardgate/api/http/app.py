"""Application factory. Nothing is built at import time.

``create_app(settings)`` validates the pipeline file immediately (a broken
config fails start-up with a message naming the key), and the lifespan builds
the core (``rewardgate.assembly.build_core``: verifier pool, models loading in
the background, cache, scorer), starts gRPC next to HTTP, and closes them on
shutdown. Handlers hold the core's façade (``RewardCore``) and nothing behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rewardgate import __version__
from rewardgate.api.context import AppContext
from rewardgate.api.grpc.server import start_grpc_server, stop_grpc_server
from rewardgate.api.http import health, scoring_declarations, stats
from rewardgate.api.http import routes as http
from rewardgate.api.http.auth import AuthMiddleware
from rewardgate.api.http.body_limit import BodyLimitMiddleware
from rewardgate.api.http.docs import ASSETS, DOC_PAGES, install_offline_docs
from rewardgate.api.http.edge import Guard, RewardgateApp
from rewardgate.api.http.errors import install_error_handlers
from rewardgate.api.http.request_count import mark_counted
from rewardgate.api.http.request_guard import RequestGuard
from rewardgate.assembly import build_core
from rewardgate.auth.keys import KeyRing
from rewardgate.config.pipeline_file import PipelineConfig, load_config
from rewardgate.config.settings import Settings
from rewardgate.core.facade import RewardCore
from rewardgate.observability.metrics import Metrics


def create_app(
    settings: Settings, config: PipelineConfig | None = None, *, core: RewardCore | None = None
) -> RewardgateApp:
    """Build the FastAPI app. Raises ConfigError for an invalid pipeline file or key ring.

    ``core``: serve this core (built by the caller with ``build_core``: tests, benches) instead of
    building one from ``config`` at start-up; the app's lifespan still starts and closes it.
    """
    if core is None:
        config = config or load_config(settings.config_path)
    keyring = KeyRing.load(settings.api_keys, settings.api_keys_file)
    metrics = core.metrics if core is not None else Metrics()

    @asynccontextmanager
    async def lifespan(app: RewardgateApp) -> AsyncIterator[None]:
        app.openapi()  # built (and cached) now, not at a request: the request counter reads its paths
        served = core or build_core(settings, config, metrics=metrics)
        app.state.context = AppContext(
            settings=settings, metrics=metrics, core=served, on_counted=mark_counted
        )
        await served.start()
        grpc_stopped: list[asyncio.Future] = []
        try:
            if settings.grpc_port:
                grpc_server = await start_grpc_server(
                    app.state.context, settings.grpc_port, settings.host, settings.max_body_bytes, keyring
                )
                served.on_drain(
                    lambda: grpc_stopped.append(stop_grpc_server(grpc_server, settings.drain_grace_s))
                )
            yield
        finally:
            served.begin_drain()  # a no-op when SIGTERM already began it
            for stopped in grpc_stopped:
                await stopped
            await served.close()

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
    # body limit: strangers are refused before their body is read); outermost, seeing every
    # reply, the refusals of the guards inside included: the last-resort envelope, the request
    # count and the compat routes' error reason phrases (one guard: request_guard.py).
    guards: list[Guard] = [(BodyLimitMiddleware, {"max_body_bytes": settings.max_body_bytes})]
    if keyring.enabled:
        on_failure = lambda reason: metrics.auth_failures.labels("http", reason).inc()  # noqa: E731
        guards.append(
            (
                AuthMiddleware,
                {"keyring": keyring, "metrics_open": settings.auth_metrics_open, "on_failure": on_failure},
            )
        )
    guards.append(
        (RequestGuard, {"metrics": metrics, "routes": lambda: route_paths(app), "record": record_error})
    )
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
