"""A scripted stand-in for the rewardgate HTTP API on a real socket, for client tests.

``script`` is a list of actions consumed one per ``POST /v1/score``:
``("ok",)``, ``("status", code, retry_after_s | None)``, ``("reset",)`` (close
the connection without answering) or ``("sleep", seconds)``; when it runs out
every request is answered ok. Each request's arrival time is recorded.
"""

from __future__ import annotations

import asyncio
import threading
import time

from aiohttp import web

from tests.support.server import free_port

ERRORS = {
    422: ("invalid_input", False),
    429: ("overloaded", True),
    503: ("backend_unavailable", True),
    504: ("deadline_exceeded", True),
}


class ScriptedScoreService:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.script: list[tuple] = []
        self.arrivals: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> ScriptedScoreService:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def play(self, *actions: tuple) -> None:
        self.script = list(actions)
        self.arrivals = []

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/score", self._score)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    async def _score(self, request: web.Request) -> web.StreamResponse:
        self.arrivals.append(time.monotonic())
        body = await request.json()
        action = self.script.pop(0) if self.script else ("ok",)
        if action[0] == "sleep":
            await asyncio.sleep(action[1])
        elif action[0] == "reset":
            request.transport.close()
            return web.Response()
        elif action[0] == "status":
            code, retry_after = action[1], action[2]
            error_type, retryable = ERRORS[code]
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            envelope = {"error": {"type": error_type, "message": "scripted", "retryable": retryable}}
            return web.json_response(envelope, status=code, headers=headers)
        results = [
            {
                "id": item["id"],
                "reward": 1.0,
                "status": "ok",
                "components": {"x": 1.0},
                "errors": {},
                "cached": [],
            }
            for item in body["items"]
        ]
        usage = {"items": len(results), "cache_hits": 0, "model_tokens": 0, "judge_tokens": 0}
        return web.json_response(
            {
                "pipeline": body["pipeline"],
                "pipeline_hash": "sha256:scripted",
                "results": results,
                "usage": usage,
                "versions": {},
            }
        )
