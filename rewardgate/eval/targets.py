"""Where evaluation items are scored: a running service, or the service built in this process.

Both answer ``score(items, pipeline)`` with one :class:`ItemScore` per item, in
order; a failure of a whole request becomes an error for each of its items,
so every item gets an answer.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from rewardgate_client import AsyncRewardClient
from rewardgate_client import RewardgateError as ClientError

from rewardgate.errors import ComponentError, RewardgateError, ServiceNotReady


@dataclass(frozen=True, slots=True)
class ItemScore:
    reward: float | None
    error: str | None = None


class ScoringTarget(Protocol):
    async def score(self, items: list[dict[str, Any]], pipeline: str) -> list[ItemScore]: ...

    async def compare(self, pairs: list[dict[str, Any]], pipeline: str) -> list[float | str]:
        """``P(a > b)`` per pair (``/v1/compare``), or the reason there is none."""
        ...


def _probability(result) -> float | str:
    """A compare result's probability, or why it has none (either side's errors)."""
    if result.probability is not None:
        return result.probability
    errors = {**(result.a.errors or {}), **(result.b.errors or {})}
    return "; ".join(f"{n}: {getattr(e, 'message', e)}" for n, e in errors.items()) or result.status


def _item_score(reward: float | None, errors: dict[str, Any]) -> ItemScore:
    if reward is not None:
        return ItemScore(reward)
    described = "; ".join(f"{name}: {getattr(e, 'message', e)}" for name, e in errors.items())
    return ItemScore(None, described or "no reward")


class RemoteTarget(AbstractAsyncContextManager):
    """Through rewardgate_client (``http://`` or ``grpc://``), with its retries."""

    def __init__(self, url: str, timeout_s: float, chunk_size: int) -> None:
        self._client = AsyncRewardClient(url, timeout_s=timeout_s, chunk_size=chunk_size)

    async def __aexit__(self, *exc_info) -> None:
        await self._client.aclose()

    async def score(self, items: list[dict[str, Any]], pipeline: str) -> list[ItemScore]:
        try:
            results = await self._client.score(items, pipeline)
        except ClientError as exc:
            return [ItemScore(None, f"{exc.error_type}: {exc.message}")] * len(items)
        return [_item_score(result.reward, result.errors) for result in results]

    async def compare(self, pairs: list[dict[str, Any]], pipeline: str) -> list[float | str]:
        try:
            results = await self._client.compare(pairs, pipeline)
        except ClientError as exc:
            return [f"{exc.error_type}: {exc.message}"] * len(pairs)
        return [_probability(result) for result in results]


class InProcessTarget(AbstractAsyncContextManager):
    """The service's own core, built from a pipeline file in this process (no sockets, no web app).

    Models load in the background as in the service; calls wait for them
    (up to ``timeout_s`` per call) instead of failing with ``not ready``.
    """

    def __init__(self, settings, timeout_s: float) -> None:
        from rewardgate.assembly import build_core

        self._core = build_core(settings)
        self._timeout_s = timeout_s

    async def __aenter__(self) -> InProcessTarget:
        await self._core.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._core.begin_drain()
        await self._core.close()

    async def score(self, items: list[dict[str, Any]], pipeline: str) -> list[ItemScore]:
        from pydantic import ValidationError

        from rewardgate.api.http.codec import score_call
        from rewardgate.api.http.schemas import ScoreRequest
        from rewardgate.api.problems import describe_validation_errors

        deadline_ms = int(self._timeout_s * 1000)
        try:
            request = ScoreRequest.model_validate(
                {"pipeline": pipeline, "items": items, "options": {"deadline_ms": deadline_ms}}
            )
        except ValidationError as exc:
            return [ItemScore(None, f"invalid_input: {describe_validation_errors(exc.errors())}")] * len(
                items
            )
        call = score_call(request)
        give_up = time.monotonic() + self._timeout_s
        while True:
            try:
                reply, _ = await self._core.score(call)
                break
            except ServiceNotReady as exc:
                if time.monotonic() > give_up:
                    return [ItemScore(None, f"{exc.error_type}: {exc.message}")] * len(items)
                await asyncio.sleep(0.5)
            except RewardgateError as exc:
                return [ItemScore(None, f"{exc.error_type}: {exc.message}")] * len(items)
        return [_item_score(r.reward, r.errors) for r in reply.results]

    async def compare(self, pairs: list[dict[str, Any]], pipeline: str) -> list[float | str]:
        from pydantic import ValidationError

        from rewardgate.api.http.codec import compare_call
        from rewardgate.api.http.schemas import CompareRequest
        from rewardgate.api.problems import describe_validation_errors

        try:
            request = CompareRequest.model_validate(
                {
                    "pipeline": pipeline,
                    "pairs": pairs,
                    "options": {"deadline_ms": int(self._timeout_s * 1000)},
                }
            )
        except ValidationError as exc:
            return [f"invalid_input: {describe_validation_errors(exc.errors())}"] * len(pairs)
        try:
            reply, _ = await self._core.compare(compare_call(request))
        except RewardgateError as exc:
            return [f"{exc.error_type}: {exc.message}"] * len(pairs)
        return [_probability(result) for result in reply.results]

    async def pairwise_orders(
        self, judge: str, items: list[dict[str, Any]]
    ) -> list[tuple[float, float] | str]:
        """Per item (``prompt``, ``response``, ``reference``: the other response), the pairwise judge's
        P(response better) asked with the response as A and as B, or the error's description."""
        from rewardgate.items import ScoringItem

        async def one(item: dict[str, Any]) -> tuple[float, float] | str:
            scoring = ScoringItem(item["prompt"], item["response"], item.get("reference"))
            try:
                return await self._core.pairwise_orders(judge, scoring, time.monotonic() + self._timeout_s)
            except (RewardgateError, ComponentError) as exc:
                return f"{exc.error_type}: {exc.message}"

        return list(await asyncio.gather(*(one(item) for item in items)))
