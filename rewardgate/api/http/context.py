"""The HTTP side of the handlers' context: FastAPI's dependency on it, cancel-on-disconnect,
the timing headers. The context itself (api/context.py) is shared with gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.types import Receive

# The context is shared with gRPC (api/context.py); kept importable here.
from rewardgate.api.context import AppContext as AppContext
from rewardgate.api.context import ClientDisconnected as ClientDisconnected
from rewardgate.core.results import StageTimings
from rewardgate.eager import Eager

T = TypeVar("T")


async def get_context(request: Request) -> AppContext:
    # async on purpose: FastAPI runs a plain-def dependency on a thread pool.
    return request.app.state.context


Context = Annotated[AppContext, Depends(get_context)]


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


def timing_headers(timings: StageTimings) -> list[tuple[bytes, bytes]]:
    """Per-stage times in milliseconds (as text-embeddings-inference reports them), as raw
    ASGI headers."""
    return [
        (b"x-queue-time", b"%.3f" % (timings.queue_s * 1000)),
        (b"x-inference-time", b"%.3f" % (timings.inference_s * 1000)),
        (b"x-total-time", b"%.3f" % (timings.total_s * 1000)),
    ]
