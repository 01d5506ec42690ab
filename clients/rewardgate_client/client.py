"""``AsyncRewardClient`` and ``RewardClient``: one API over HTTP or gRPC.

``url`` picks the transport: ``http://host:8000`` / ``https://...`` or
``grpc://host:50051``. Every call has a deadline (``timeout_s`` by default);
it is sent to the server (``options.deadline_ms``, or the gRPC deadline) and
bounds retries. Large item lists are split into ``chunk_size`` chunks sent
concurrently, at most ``max_concurrency`` at a time; results come back in
input order. ``api_key`` (default: the ``REWARDGATE_API_KEY`` environment
variable) is sent as ``Authorization: Bearer`` (HTTP) or ``authorization``
metadata (gRPC).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from rewardgate_client.errors import RewardgateError
from rewardgate_client.retry import RetryBudget, RetryLoop, RetryPolicy, time_left
from rewardgate_client.types import CompareResult, Item, Result, as_item_dict

T = TypeVar("T")


def transport_options(url: str, headers: dict[str, str] | None, api_key: str | None) -> dict[str, Any]:
    """Keyword arguments of the transport for ``url``: the API key (argument, else
    ``REWARDGATE_API_KEY``) as gRPC metadata or an ``Authorization`` header."""
    api_key = api_key if api_key is not None else os.environ.get("REWARDGATE_API_KEY") or None
    if url.startswith("grpc://"):
        return {"api_key": api_key}
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return {"headers": {**(headers or {}), **auth}}


def make_transport(url: str, **kwargs):
    if url.startswith("grpc://"):
        from rewardgate_client._grpc import GrpcTransport

        return GrpcTransport(url.removeprefix("grpc://"), **kwargs)
    if url.startswith(("http://", "https://")):
        from rewardgate_client._http import HttpTransport

        return HttpTransport(url, **kwargs)
    raise ValueError(f"url must start with http://, https:// or grpc:// (got {url!r})")


class AsyncRewardClient:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 60.0,
        chunk_size: int = 256,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
        api_key: str | None = None,
    ) -> None:
        if chunk_size < 1 or max_concurrency < 1:
            raise ValueError("chunk_size and max_concurrency must be at least 1")
        self.url = url
        self.timeout_s = timeout_s
        self.chunk_size = chunk_size
        self.max_concurrency = max_concurrency
        self.retry = retry or RetryPolicy.from_env()
        self._budget = RetryBudget(self.retry)
        self._transport_options = transport_options(url, headers, api_key)
        self._transport = make_transport(url, **self._transport_options)

    async def __aenter__(self) -> AsyncRewardClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.close()

    # ------------------------------------------------------------ calls

    async def score(
        self,
        items: Iterable[Item | dict[str, Any]],
        pipeline: str,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> list[Result]:
        """Score ``items`` (dicts or :class:`Item`); one :class:`Result` per item, in order.

        ``options`` are the server's score options (``return_components``,
        ``cache``, ``explain``, ``return_steps``, ``weights``). Item errors are
        in each result; call failures raise a :class:`RewardgateError`.
        """
        dicts = item_dicts(items)
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        chunks = [dicts[i : i + self.chunk_size] for i in range(0, len(dicts), self.chunk_size)]
        window = asyncio.Semaphore(self.max_concurrency)

        async def send(chunk: list[dict[str, Any]]) -> list[Result]:
            async with window:
                reply = await self._with_retries(
                    lambda left: self._transport.score(score_body(pipeline, chunk, options, left), left),
                    deadline,
                )
                return reply.results

        if len(chunks) == 1:  # the common case (one sample per request): no task, no gather
            return await send(chunks[0])
        answered = await asyncio.gather(*(send(chunk) for chunk in chunks))
        return [result for chunk in answered for result in chunk]

    async def compare(
        self,
        pairs: Iterable[dict[str, Any]],
        pipeline: str,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> list[CompareResult]:
        """``P(a > b)`` per pair ``{"prompt", "response_a", "response_b", ...}``."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        body_pairs = list(pairs)
        return await self._with_retries(
            lambda left: self._transport.compare(
                {"pipeline": pipeline, "pairs": body_pairs, "options": _with_deadline(options, left)}, left
            ),
            deadline,
        )

    async def pipelines(self, *, timeout_s: float | None = None) -> list[dict[str, Any]]:
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        return await self._with_retries(self._transport.pipelines, deadline)

    async def stream(
        self,
        items: AsyncIterable[Item | dict[str, Any]] | Iterable[Item | dict[str, Any]],
        pipeline: str,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> AsyncIterator[Result | RewardgateError]:
        """Send items as they come; yield each answer as soon as it is ready.

        Over gRPC this is one ``ScoreStream`` call; over HTTP each item is its
        own request. Answers arrive in any order and carry the item's id; an
        item that failed as a whole (overload, its deadline) is yielded as a
        :class:`RewardgateError` whose ``item_id`` attribute names it.
        """
        if self.url.startswith("grpc://"):
            async for answer in self._stream_grpc(items, pipeline, timeout_s, options):
                yield answer
            return
        async for answer in self._stream_http(items, pipeline, timeout_s, options):
            yield answer

    # ------------------------------------------------------------ internals

    async def _stream_grpc(self, items, pipeline, timeout_s, options):
        from rewardgate_client._grpc import item_to_proto, options_to_proto, result_from_proto
        from rewardgate_client.errors import error_from
        from rewardgate_client.v1 import reward_pb2 as pb

        proto_options = options_to_proto(options)
        ready: asyncio.Queue = asyncio.Queue()

        async def requests():
            # Every item already waiting travels in one message (a burst, at most chunk_size):
            # gRPC's per-message cost in Python is about that of scoring a cheap item.
            index = 0
            async for burst in _bursts(ready, self.chunk_size):
                protos = []
                for item in burst:
                    data = as_item_dict(item)
                    data.setdefault("id", str(index))
                    protos.append(item_to_proto(data, index))
                    index += 1
                yield pb.StreamRequest(pipeline=pipeline, items=protos, options=proto_options)

        def answer(reply):
            if reply.HasField("result"):
                return result_from_proto(reply.result, reply.pipeline_hash)
            detail = reply.error
            error = error_from(detail.type, detail.message, detail.retryable)
            error.item_id = reply.id
            return error

        feeder = asyncio.create_task(_pump(items, ready))
        try:
            async for reply in self._transport.stream(requests(), timeout_s):
                for one in reply.batch or (reply,):
                    yield answer(one)
            feeder.result()  # re-raise a failing item source
        finally:
            feeder.cancel()

    async def _stream_http(self, items, pipeline, timeout_s, options):
        queue: asyncio.Queue = asyncio.Queue()
        window = asyncio.Semaphore(self.max_concurrency * self.chunk_size)

        async def one(data: dict[str, Any]) -> None:
            try:
                (result,) = await self.score([data], pipeline, timeout_s=timeout_s, **options)
                await queue.put(result)
            except RewardgateError as exc:
                exc.item_id = data["id"]
                await queue.put(exc)
            finally:
                window.release()

        async def feed() -> int:
            tasks, index = set(), 0
            async for item in _aiter(items):
                data = as_item_dict(item)
                data.setdefault("id", str(index))
                index += 1
                await window.acquire()
                task = asyncio.create_task(one(data))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            return index

        feeder = asyncio.create_task(feed())
        delivered = 0
        while not (feeder.done() and delivered == feeder.result()):
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, feeder}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                delivered += 1
                yield getter.result()
            else:
                getter.cancel()
                feeder.result()  # re-raise a failing item source

    async def _with_retries(self, call: Callable[[float], Awaitable[T]], deadline: float) -> T:
        retries = RetryLoop(self.retry, self._budget, deadline)
        while True:
            left = retries.time_left()
            try:
                return await call(left)
            except RewardgateError as exc:
                wait = retries.wait_before_retry(exc)
                if wait is None:
                    raise
            await asyncio.sleep(wait)


def item_dicts(items: Iterable[Item | dict[str, Any]]) -> list[dict[str, Any]]:
    """The items as wire dicts, each with an id (its position, unless it has one)."""
    # as_item_dict's test written out: the function call was most of what a one-item call spent here
    dicts = [item.to_dict() if isinstance(item, Item) else dict(item) for item in items]
    for index, item in enumerate(dicts):
        item.setdefault("id", str(index))
    return dicts


def score_body(
    pipeline: str, items: list[dict[str, Any]], options: dict[str, Any], left_s: float
) -> dict[str, Any]:
    """A score request for ``items`` whose server deadline is at most ``left_s``."""
    return {"pipeline": pipeline, "items": items, "options": _with_deadline(options, left_s)}


def _with_deadline(options: dict[str, Any], left_s: float) -> dict[str, Any]:
    """Options with the server deadline set to what is left of ours (never more)."""
    left_ms = max(1, int(left_s * 1000))
    given = options.get("deadline_ms")
    return {**options, "deadline_ms": min(given, left_ms) if given else left_ms}


#: Marks the end of the items in a :func:`_pump` queue.
_END = object()


async def _pump(items, ready: asyncio.Queue) -> None:
    """Put every item of ``items`` (sync or async iterable) on ``ready`` (unbounded), then
    :data:`_END`. Per item no more than the source's own step: a stream's items pass here one by
    one, so a burst costs what its items cost."""
    try:
        if hasattr(items, "__aiter__"):
            async for item in items:
                ready.put_nowait(item)
        else:
            for item in items:
                ready.put_nowait(item)
    finally:
        ready.put_nowait(_END)


async def _bursts(ready: asyncio.Queue, size: int):
    """Lists of the items waiting on ``ready`` at once (1 to ``size``), until :data:`_END`."""
    while True:
        burst = [await ready.get()]
        while len(burst) < size and not ready.empty():
            burst.append(ready.get_nowait())
        if burst[-1] is _END:
            if len(burst) > 1:
                yield burst[:-1]
            return
        yield burst


async def _aiter(items):
    if hasattr(items, "__aiter__"):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class RewardClient:
    """Synchronous :class:`AsyncRewardClient`.

    Safe to call from plain code and from inside another running event loop
    (e.g. a trainer's). Called from a thread with no running loop:

    * ``score`` over HTTP with at most ``chunk_size`` items (one request) is
      sent on the calling thread over that thread's own blocking keep-alive
      connection (:mod:`rewardgate_client._http_blocking`): no event loop, no
      hand-off, which is what a one-sample-per-request caller waits for;
    * every other call runs on that thread's own private loop (one per
      thread, created on first use).

    Called from inside a running loop, a call runs on the client's background
    thread, never on the caller's loop. Every path follows the same retry
    policy, deadline and error types, and shares one retry budget.
    """

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = url
        self._kwargs = kwargs
        self._local = threading.local()
        self._lock = threading.Lock()
        self._owned: list[tuple[asyncio.AbstractEventLoop, AsyncRewardClient]] = []
        self._budget: RetryBudget | None = None
        self._blocking: list[Any] = []  # every thread's BlockingHttpTransport, closed by close()
        self._over_http = url.startswith(("http://", "https://"))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rewardgate-client", daemon=True)
        self._thread.start()
        self._async = asyncio.run_coroutine_threadsafe(self._build(), self._loop).result()

    def score(
        self,
        items: Iterable[Item | dict[str, Any]],
        pipeline: str,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> list[Result]:
        """As :meth:`AsyncRewardClient.score`."""
        items = list(items)
        if self._over_http and len(items) <= self._async.chunk_size and not _loop_running():
            return self._score_blocking(items, pipeline, timeout_s, options)
        return self._run(lambda client: client.score(items, pipeline, timeout_s=timeout_s, **options))

    def compare(self, pairs: Iterable[dict[str, Any]], pipeline: str, **kwargs: Any) -> list[CompareResult]:
        pairs = list(pairs)
        return self._run(lambda client: client.compare(pairs, pipeline, **kwargs))

    def pipelines(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self._run(lambda client: client.pipelines(**kwargs))

    def close(self) -> None:
        with self._lock:
            owned, self._owned = self._owned, []
            blocking, self._blocking = self._blocking, []
        for transport in blocking:
            transport.close()
        for loop, client in owned:
            loop.run_until_complete(client.aclose())
            loop.close()
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._async.aclose(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> RewardClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _run(self, call: Callable[[AsyncRewardClient], Awaitable[T]]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # plain code: this thread's own loop
            loop, client = self._thread_client()
            return loop.run_until_complete(call(client))
        return asyncio.run_coroutine_threadsafe(call(self._async), self._loop).result()

    def _score_blocking(
        self, items: list[Any], pipeline: str, timeout_s: float | None, options: dict[str, Any]
    ) -> list[Result]:
        """One score request from this thread, blocking; retries as the async client does.

        A single plain item's body is written once up to its deadline, whose value each
        attempt adds (:func:`rewardgate_client._http.single_score_head`): the same bytes
        as the general body's."""
        transport = self._thread_transport()
        head = transport.single_score_head(pipeline, items, options)
        dicts = item_dicts(items) if head is None else None
        deadline = time.monotonic() + (timeout_s or self._async.timeout_s)
        self._budget.on_call()
        retries = None  # built at the first failure: most calls have none
        while True:
            left = time_left(deadline)
            try:
                if head is not None:
                    left_ms = int(left * 1000)  # as _with_deadline's, without max(): ~0.8k instructions
                    return transport.score_single(head, left_ms if left_ms > 0 else 1, left)
                return transport.score_results(score_body(pipeline, dicts, options, left), left)
            except RewardgateError as exc:
                if retries is None:
                    retries = RetryLoop(self._async.retry, self._budget, deadline, counted=True)
                wait = retries.wait_before_retry(exc)
                if wait is None:
                    raise
            time.sleep(wait)

    def _thread_transport(self):
        transport = getattr(self._local, "blocking", None)
        if transport is None:
            from rewardgate_client._http_blocking import BlockingHttpTransport

            transport = self._local.blocking = BlockingHttpTransport(
                self.url, **self._async._transport_options
            )
            with self._lock:
                self._blocking.append(transport)
        return transport

    def _thread_client(self) -> tuple[asyncio.AbstractEventLoop, AsyncRewardClient]:
        pair = getattr(self._local, "pair", None)
        if pair is None:
            loop = asyncio.new_event_loop()
            pair = self._local.pair = (loop, loop.run_until_complete(self._build()))
            with self._lock:
                self._owned.append(pair)
        return pair

    async def _build(self) -> AsyncRewardClient:
        # Built on the loop that will use it: gRPC channels bind to the loop that creates them.
        client = AsyncRewardClient(self.url, **self._kwargs)
        if self._budget is None:
            self._budget = client._budget
        client._budget = self._budget  # one retry budget for every loop of this client
        return client


def _loop_running() -> bool:
    # _get_running_loop (asyncio's own, public in asyncio.events.__all__) answers None where
    # get_running_loop raises: the exception cost a blocking call about 2k instructions.
    return asyncio._get_running_loop() is not None


__all__ = ["AsyncRewardClient", "RewardClient"]
