"""HTTP transport: JSON over httpx (keep-alive connection pool)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from rewardgate_client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    InvalidInput,
    RewardgateError,
    error_from,
)
from rewardgate_client.types import CompareResult, Result, ScoreReply


class HttpTransport:
    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, max_connections: int = 64):
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def score(self, body: dict[str, Any], timeout_s: float) -> ScoreReply:
        return ScoreReply.from_dict(await self._post("/v1/score", body, timeout_s))

    async def compare(self, body: dict[str, Any], timeout_s: float) -> list[CompareResult]:
        data = await self._post("/v1/compare", body, timeout_s)
        return [
            CompareResult(
                id=r["id"],
                probability=r.get("probability"),
                status=r["status"],
                a=Result.from_dict(r["a"], data["pipeline_hash"]),
                b=Result.from_dict(r["b"], data["pipeline_hash"]),
            )
            for r in data["results"]
        ]

    async def pipelines(self, timeout_s: float) -> list[dict[str, Any]]:
        try:
            response = await self._client.get("/v1/pipelines", timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded(f"no answer within {timeout_s:.3g} s") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
        return self._check(response)["pipelines"]

    async def close(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        try:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:  # as the gRPC transport: the caller's input, never sent
            raise InvalidInput(f"the request is not plain JSON: {exc}") from None
        try:
            response = await self._client.post(
                path, content=content, headers={"content-type": "application/json"}, timeout=timeout_s
            )
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded(f"no answer within {timeout_s:.3g} s") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
        return self._check(response)

    @staticmethod
    def _check(response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 200:
            return response.json()
        retry_after = _seconds(response.headers.get("retry-after"))
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            retryable = response.status_code in (429, 502, 503, 504)
            raise RewardgateError(
                f"HTTP {response.status_code}: {response.text[:200]}",
                retryable=retryable,
                retry_after_s=retry_after,
            ) from None
        raise error_from(
            error.get("type", "internal"), error.get("message", ""), error.get("retryable"), retry_after
        )


def _seconds(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None
