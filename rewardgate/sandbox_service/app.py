"""The sandbox service's ASGI app: ``POST /v1/run`` runs code in this process's verifier pool.

Each worker process of the pool keeps its own bubblewrap cell with a run
prepared ahead (rewardgate/sources/rule/sandbox/), exactly as a gateway's
verifier process does in the embedded mode, so a run here reaches the same
outcome it would there (protocol.py has the request and the replies).

Per request: the body is read and validated (413, 422); a run is admitted
while fewer than ``max_queue`` runs wait for a worker (else 429 at once, so
the caller retries elsewhere and the autoscaler sees the queue); then the run
goes to the pool, bounded by the caller's ``deadline_ms`` (504 after it). If
the caller goes away first (its request was cancelled, its deadline passed)
the run is abandoned and its sandbox killed at once; the worker is kept
(rewardgate/sources/rule/pool.py). Plain ASGI: four routes need no framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time

import orjson
from pydantic import ValidationError

from rewardgate.errors import ComponentError
from rewardgate.sandbox_service.metrics import SandboxMetrics
from rewardgate.sandbox_service.protocol import RunRequest, error_body
from rewardgate.sandbox_service.settings import SandboxServiceSettings
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.sandbox.runner import SandboxLimits, run_session

log = logging.getLogger(__name__)
#: The pool kills a worker whose run outlives its budget by this much (the run's own limit is first).
_POOL_MARGIN_S = 15.0
_JSON = [(b"content-type", b"application/json")]


class SandboxApp:
    def __init__(self, settings: SandboxServiceSettings) -> None:
        self.settings = settings
        self.workers = settings.workers or os.cpu_count() or 1
        self.pool: VerifierPool | None = None
        self.metrics = SandboxMetrics(queued=self._queued, workers=self.workers)
        self.draining = False
        self._background: list[asyncio.Task] = []
        self._routes = {
            ("POST", "/v1/run"): self._run,
            ("GET", "/healthz"): self._healthz,
            ("GET", "/readyz"): self._readyz,
            ("GET", "/metrics"): self._metrics,
        }

    def _queued(self) -> int:
        return self.pool.queued if self.pool is not None else 0

    @property
    def ready(self) -> bool:
        return self.pool is not None and self.pool.ready and not self.draining

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        handler = self._routes.get((scope["method"], scope["path"]))
        if handler is not None:
            await handler(receive, send)
        elif any(path == scope["path"] for _, path in self._routes):
            await _reply(send, 405, error_body("method_not_allowed", "method not allowed", False))
        else:
            await _reply(send, 404, error_body("not_found", f"no route {scope['path']}", False))

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def start(self) -> None:
        """Start the pool; it warms (a cell per worker) in the background, /readyz says when."""
        restarts = self.metrics.pool_restarts
        self.pool = pool = VerifierPool(workers=self.workers, initializer=_warm_cell, on_restart=restarts.inc)
        self._background = [asyncio.create_task(pool.warm()), asyncio.create_task(pool.supervise())]

    def stop(self) -> None:
        for task in self._background:
            task.cancel()
        if self.pool is not None:
            self.pool.close()

    async def _healthz(self, receive, send) -> None:
        await _reply(send, 200, b'{"status": "ok"}')

    async def _readyz(self, receive, send) -> None:
        if self.ready:
            await _reply(send, 200, b'{"status": "ready"}')
        else:
            await _reply(send, 503, error_body("not_ready", "the sandbox workers are not ready", True))

    async def _metrics(self, receive, send) -> None:
        await _reply(send, 200, self.metrics.exposition(), [(b"content-type", b"text/plain; version=0.0.4")])

    async def _run(self, receive, send) -> None:
        started = time.monotonic()
        request, refusal = await self._admit(receive)
        if refusal is not None:
            status, error_type, message, retryable = refusal
            self.metrics.runs.labels(error_type).inc()
            headers = [(b"retry-after", b"1")] if retryable else []
            await _reply(send, status, error_body(error_type, message, retryable), _JSON + headers)
            return
        self.metrics.inflight.inc()
        try:
            status, reply, result = await self._execute(request, receive)
        finally:
            self.metrics.inflight.dec()
            self.metrics.run_seconds.observe(time.monotonic() - started)
        self.metrics.runs.labels(result).inc()
        if reply is not None:
            await _reply(send, status, reply)

    async def _admit(self, receive) -> tuple[RunRequest | None, tuple | None]:
        """The request, or why it is refused: (status, type, message, retryable)."""
        body = await _read_body(receive, self.settings.max_body_bytes)
        if body is None:
            limit = self.settings.max_body_bytes
            return None, (413, "payload_too_large", f"the run request is over {limit} bytes", False)
        try:
            request = RunRequest.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            return None, (422, "invalid_input", f"{where}: {first['msg']}", False)
        if self.draining:
            return None, (503, "draining", "the sandbox service is shutting down", True)
        if not self.ready:
            return None, (503, "not_ready", "the sandbox workers are not ready", True)
        if self.pool.queued >= self.settings.max_queue:
            waiting = self.pool.queued
            return None, (429, "overloaded", f"{waiting} runs already wait for a worker", True)
        return request, None

    async def _execute(self, request: RunRequest, receive) -> tuple[int, bytes | None, str]:
        """Run ``request`` in the pool until it ends, its deadline passes or the caller goes away."""
        limits = SandboxLimits(**request.limits.model_dump())
        longest = self.settings.max_deadline_ms
        budget_s = min(request.deadline_ms or longest, longest) / 1000
        args = (request.mode, request.source, request.payload, limits)
        timeout_s = limits.timeout_s + _POOL_MARGIN_S
        run = asyncio.ensure_future(self.pool.run(_execute_run, *args, timeout_s=timeout_s))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            done, _ = await asyncio.wait({run, gone}, timeout=budget_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if run not in done:
            run.cancel()  # the pool kills the run's sandbox and keeps the worker
            await asyncio.wait({run})
            if gone in done:
                return 499, None, "cancelled"
            message = f"the run did not finish within its deadline of {budget_s * 1000:.0f} ms"
            return 504, error_body("deadline_exceeded", message, True), "deadline_exceeded"
        try:
            report = run.result()
        except ComponentError as exc:
            return 200, orjson.dumps({"failure": exc.to_item_error()}), exc.error_type
        return 200, orjson.dumps({"outcome": report}), "ok"


def _execute_run(mode: str, source: str, payload: dict, limits: SandboxLimits) -> dict:
    """In a worker process: one run in its cell, as plain data."""
    return dataclasses.asdict(run_session(mode, source, payload, limits))


def _warm_cell() -> None:
    """Worker initializer: start this worker's cell with one real run (a failure is logged; each run
    then reports it as ``sandbox_error``)."""
    try:
        run_session("tests", "x = 1\n", {"kind": "tests", "tests": "assert x == 1\n"}, SandboxLimits())
    except Exception:
        logging.getLogger(__name__).exception("the sandbox cell of this worker did not start")


async def _read_body(receive, limit: int) -> bytes | None:
    """The request body, or None once it is over ``limit`` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _disconnected(receive) -> None:
    """Returns when the caller has gone away (after the body, ``receive`` only reports that)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _reply(send, status: int, body: bytes, headers: list | None = None) -> None:
    with contextlib.suppress(OSError):
        await send({"type": "http.response.start", "status": status, "headers": headers or _JSON})
        await send({"type": "http.response.body", "body": body})
