"""A group's samples sent on to the replica that owns the group (rewardgate/groups/peers.py).

The samples go to the owner's ``POST /v1/score?forwarded=1`` as they came,
with their ``group: {id, size}``, the caller's options and the time left of
its deadline; the owner assembles the group like any other and its answer
comes back as the samples' scored items. ``forwarded=1`` stops the owner from
forwarding again when the replicas disagree about the peer list.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson

from rewardgate.core.calls import CallItem, CallOptions
from rewardgate.errors import (
    BackendUnavailable,
    ComponentError,
    DeadlineExceeded,
    InvalidInput,
    Overloaded,
    RewardgateError,
    ServiceNotReady,
)
from rewardgate.pipeline.columns import ScoredItem, StepDetail

_REQUEST_ERRORS: dict[str, type[RewardgateError]] = {
    cls.error_type: cls for cls in (InvalidInput, Overloaded, DeadlineExceeded, ServiceNotReady)
}
_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


class RemoteComponentError(ComponentError):
    """A per-item failure as the owner replica reported it (its type and retryability kept)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error_type = error.get("type", "component_error")
        self.retryable = bool(error.get("retryable", False))


class RemoteExplanation:
    """The owner's explanation tree, passed on as it is."""

    def __init__(self, tree: dict) -> None:
        self.tree = tree

    def to_dict(self) -> dict:
        return self.tree


def _client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = httpx.AsyncClient(timeout=None)
    return _clients[loop]


def wire_item(entry: CallItem, size: int) -> dict[str, Any]:
    item = entry.item
    data: dict[str, Any] = {
        "id": entry.id,
        "prompt": item.prompt,
        "response": item.response,
        "metadata": item.metadata,
        "group": {"id": entry.group, "size": size},
    }
    if item.reference is not None:
        data["reference"] = item.reference
    return data


async def forward(
    owner: str,
    pipeline: str,
    entries: list[CallItem],
    size: int,
    options: CallOptions,
    deadline: float,
    api_key: str | None = None,
) -> dict[str, ScoredItem]:
    """The scored items, by sample id, the owner gives ``entries``.

    Raises:
        BackendUnavailable: the owner could not be reached or failed (retryable 503).
        InvalidInput, Overloaded, DeadlineExceeded, ServiceNotReady: as the owner answered.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded("the deadline passed before the group's samples reached their owner")
    body = {
        "pipeline": pipeline,
        "items": [wire_item(entry, size) for entry in entries],
        "options": {
            "deadline_ms": max(int(remaining * 1000), 1),
            "cache": options.cache,
            "explain": options.explain,
            "return_steps": options.return_steps,
            "weights": options.weights,
        },
    }
    headers = {"content-type": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    try:
        reply = await _client().post(
            f"{owner}/v1/score?forwarded=1", content=orjson.dumps(body), headers=headers, timeout=remaining
        )
    except httpx.TimeoutException:
        raise DeadlineExceeded(f"the group's owner {owner} did not answer within the deadline") from None
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"the group's owner {owner} is unreachable: {exc}") from None
    data = orjson.loads(reply.content) if reply.content else {}
    if reply.status_code != 200:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        cls = _REQUEST_ERRORS.get(error.get("type"), BackendUnavailable)
        hint = (
            " (set REWARDGATE_GROUP_PEER_API_KEY to a key the replicas accept)"
            if reply.status_code == 401
            else ""
        )
        raise cls(f"the group's owner {owner}: {error.get('message', reply.status_code)}{hint}")
    return {result["id"]: _scored_item(result) for result in data["results"]}


def _scored_item(result: dict[str, Any]) -> ScoredItem:
    return ScoredItem(
        status=result["status"],
        reward=result["reward"],
        components=result.get("components") or {},
        errors={name: RemoteComponentError(e) for name, e in (result.get("errors") or {}).items()},
        cached=result.get("cached") or [],
        steps={
            name: StepDetail(s["rewards"], s["deltas"]) for name, s in (result.get("steps") or {}).items()
        },
        explanation=RemoteExplanation(result["explanation"]) if result.get("explanation") else None,
    )
