"""Running the sandbox service under uvicorn until SIGTERM, then draining its runs."""

from __future__ import annotations

import uvicorn

from rewardgate.sandbox_service.app import SandboxApp
from rewardgate.sandbox_service.settings import SandboxServiceSettings


class _DrainingServer(uvicorn.Server):
    """On SIGTERM /readyz turns 503 and new runs get 503 ``draining``; runs in flight have
    ``drain_grace_s`` to finish, then the process exits 0."""

    def __init__(self, config: uvicorn.Config, app: SandboxApp) -> None:
        super().__init__(config)
        self.sandbox = app

    async def shutdown(self, sockets=None) -> None:
        self.sandbox.draining = True
        await super().shutdown(sockets)
        self._captured_signals.clear()  # a completed drain is a clean exit, as in rewardgate/server.py


def serve(settings: SandboxServiceSettings) -> None:
    app = SandboxApp(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",
        timeout_graceful_shutdown=settings.drain_grace_s,
    )
    _DrainingServer(config, app).run()
