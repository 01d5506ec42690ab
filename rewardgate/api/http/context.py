"""The typed per-app context that handlers depend on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.types import Receive

from rewardgate.api.http.request_count import mark_counted
from rewardgate.api.status import http_status
from rewardgate.config.settings import Settings
from rewardgate.core.facade import RewardCore
from rewardgate.core.scorer import StageTimings
from rewardgate.eager import Eager
from rewardgate.errors import RewardgateError
from rewardgate.observability.metrics import Metrics

T = TypeVar("T")


@dataclass
class AppContext:
    """What a transport handler holds: the settings, the metrics and the core's front door."""

    settings: Settings
    metrics: Metrics
    core: RewardCore

    @contextmanager
    def observe(self, route: str, pipeline: str) -> Iterator[None]:
        """Count and time one request, labelled by route, pipeline and final status."""
        label = pipeline if self.core.knows(pipeline) else "unknown"
        started = time.perf_counter()
        status = 200
        try:
            yield
        except RewardgateError as exc:
            status = http_status(exc)
            raise
        except ClientDisconnected:
            status = 499
            raise
        except Exception:
            status = 500
            raise
        finally:
            mark_counted()  # the HTTP counting guard leaves this request to us
            self.metrics.requests.labels(route, label, str(status)).inc()
            self.metrics.request_seconds.labels(route, label).observe(time.perf_counter() - started)


async def get_context(request: Request) -> AppContext:
    # async on purpose: FastAPI runs a plain-def dependency on a thread pool.
    return request.app.state.context


Context = Annotated[AppContext, Depends(get_context)]


class ClientDisconnected(Exception):
    """The client closed the connection; the work was cancelled."""


async def cancel_on_disconnect(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` in this task; a client disconnect cancels it and raises ClientDisconnected.

    ``receive`` is the request's ASGI receive (its body already read). Work
    that finishes without waiting (an inline rule, a cache hit in memory)
    runs at once and needs no watcher: a disconnect could only cancel it at
    a suspension (rewardgate/eager.py). Otherwise one watcher task per request;
    the work itself is not wrapped in another task: cancellation propagates
    into the batcher, which drops the request's queued items instead of
    computing scores nobody will read.
    """
    started = Eager(work)
    if started.done:
        return started.result()
    this = asyncio.current_task()
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        this.cancel()

    watcher = asyncio.create_task(watch())
    try:
        return await started
    except asyncio.CancelledError:
        if gone:
            this.uncancel()
            raise ClientDisconnected from None
        raise
    finally:
        watcher.cancel()


def timing_headers(timings: StageTimings) -> dict[str, str]:
    """Per-stage times in milliseconds (as text-embeddings-inference reports them)."""
    return {
        "x-queue-time": f"{timings.queue_s * 1000:.3f}",
        "x-inference-time": f"{timings.inference_s * 1000:.3f}",
        "x-total-time": f"{timings.total_s * 1000:.3f}",
    }
