"""One ``ScoreStream`` call: items in as they come, answers out as they are ready.

Items are read as the caller sends them (at most ``STREAM_WINDOW`` unanswered,
which is the stream's backpressure) and scored in micro-batches: every item
already waiting when a batch starts joins it (up to ``STREAM_BATCH``, same
pipeline and options), so a trickle is scored item by item with no added
wait, while a burst costs one scorer call per batch instead of one per item.

Each answer carries the caller's item id. A request-level failure (overload,
deadline) answers each item of the batch with that error; an input error
(one bad item) is attributed exactly by scoring that batch's items one by one.

A caller may send bursts (``StreamRequest.items``, several items per message);
it is then answered in bursts too (``StreamResult.batch``, one message per
scored micro-batch). gRPC's per-message cost in Python is about that of
scoring a cheap item, so bursts make a stream cost per item what a unary call
of the same items costs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.api.context import AppContext
from rewardgate.api.grpc import codec as convert
from rewardgate.core.calls import ScoreCall
from rewardgate.errors import InvalidInput, RewardgateError

STREAM_WINDOW = 1024
STREAM_BATCH = 64


@dataclass(frozen=True)
class Undecodable:
    """A request message that did not parse; answered as an input error."""

    reason: str


@dataclass
class _Pending:
    request: pb.StreamRequest  # the message the item came in: its pipeline and options
    item: pb.Item
    caller_id: str


def error_detail(exc: RewardgateError) -> pb.ErrorDetail:
    detail = pb.ErrorDetail(type=exc.error_type, message=exc.message, retryable=exc.retryable)
    if exc.retry_after_s is not None:
        detail.retry_after_s = exc.retry_after_s
    return detail


class StreamSession:
    def __init__(self, ctx: AppContext, context: grpc.aio.ServicerContext) -> None:
        self.ctx = ctx
        self.context = context
        self._incoming: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._answers: asyncio.Queue[pb.StreamResult | None] = asyncio.Queue()
        self._window = asyncio.Semaphore(STREAM_WINDOW)
        self._batches: set[asyncio.Task] = set()
        #: The caller sends bursts, so it is answered in bursts.
        self._bursts = False

    async def run(self, requests: AsyncIterator[pb.StreamRequest]) -> AsyncIterator[pb.StreamResult]:
        reader = asyncio.create_task(self._read(requests))
        dispatcher = asyncio.create_task(self._dispatch())
        try:
            while (answer := await self._answers.get()) is not None:
                yield answer
            await reader  # surfaces a broken request stream
        finally:
            for task in (reader, dispatcher, *self._batches):
                task.cancel()

    async def _read(self, requests: AsyncIterator[pb.StreamRequest]) -> None:
        count = 0
        try:
            async for request in requests:
                if isinstance(request, Undecodable):
                    error = InvalidInput(f"message {count} does not parse: {request.reason}")
                    await self._answers.put(pb.StreamResult(id=str(count), error=error_detail(error)))
                    count += 1
                    continue
                if request.items:
                    self._bursts = True
                for item in _items_of(request):
                    await self._window.acquire()
                    await self._incoming.put(_Pending(request, item, item.id or str(count)))
                    count += 1
        finally:
            await self._incoming.put(None)

    async def _dispatch(self) -> None:
        ended = False
        while not ended:
            first = await self._incoming.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < STREAM_BATCH and not self._incoming.empty():
                following = self._incoming.get_nowait()
                if following is None:
                    ended = True
                    break
                batch.append(following)
            for group in _by_pipeline_and_options(batch):
                task = asyncio.create_task(self._score(group))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)
        await asyncio.gather(*list(self._batches), return_exceptions=True)
        await self._answers.put(None)

    async def _score(self, group: list[_Pending]) -> None:
        try:
            answers = await self._score_together(group)
        except RewardgateError as exc:
            if exc.retryable or len(group) == 1:
                answers = [pb.StreamResult(id=p.caller_id, error=error_detail(exc)) for p in group]
            else:  # an input error: find out which item it belongs to
                answers = [answer for p in group for answer in await self._score_alone(p)]
        finally:
            for _ in group:
                self._window.release()
        if self._bursts:
            await self._answers.put(pb.StreamResult(batch=answers))
            return
        for answer in answers:
            await self._answers.put(answer)

    async def _score_alone(self, pending: _Pending) -> list[pb.StreamResult]:
        try:
            return await self._score_together([pending])
        except RewardgateError as exc:
            return [pb.StreamResult(id=pending.caller_id, error=error_detail(exc))]

    async def _score_together(self, group: list[_Pending]) -> list[pb.StreamResult]:
        first = group[0].request
        with self.ctx.observe("grpc:ScoreStream", first.pipeline):
            # Ids by position: unique within the batch whatever the callers sent. A sample of a
            # sized group keeps the caller's id: its group may span batches, matched by id.
            items = convert.call_items([p.item for p in group], ids=[str(i) for i in range(len(group))])
            for entry, pending in zip(items, group, strict=True):
                if entry.group_size is not None:
                    entry.id = pending.item.id or None
            options = convert.call_options(first.options, self.context.time_remaining())
            response, _ = await self.ctx.core.score(ScoreCall(first.pipeline, items, options))
        answers = []
        for pending, result in zip(group, response.results, strict=True):
            result.id = pending.caller_id
            answers.append(
                pb.StreamResult(
                    id=pending.caller_id, result=convert.result(result), pipeline_hash=response.pipeline_hash
                )
            )
        return answers


def _by_pipeline_and_options(batch: list[_Pending]) -> list[list[_Pending]]:
    groups: dict[tuple[str, bytes], list[_Pending]] = {}
    keys: dict[int, tuple[str, bytes]] = {}  # per request message: a burst's items share one
    for pending in batch:
        key = keys.get(id(pending.request))
        if key is None:
            request = pending.request
            key = keys[id(request)] = (
                request.pipeline,
                request.options.SerializeToString(deterministic=True),
            )
        groups.setdefault(key, []).append(pending)
    return list(groups.values())


def _items_of(request: pb.StreamRequest) -> list[pb.Item]:
    """The items a message carries: ``item`` (also when unset: an empty item, as ever) and ``items``."""
    if request.items:
        return [request.item, *request.items] if request.HasField("item") else list(request.items)
    return [request.item]
