"""Client reuse across adapter calls (one connection pool per process and URL)."""

from __future__ import annotations

import threading
from typing import Any

from rewardgate_client.client import RewardClient

_clients: dict[tuple[str, tuple[tuple[str, Any], ...]], RewardClient] = {}
_lock = threading.Lock()


def shared_client(url: str, **kwargs: Any) -> RewardClient:
    """The process-wide :class:`RewardClient` for ``url`` (created on first use)."""
    key = (url, tuple(sorted(kwargs.items())))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = RewardClient(url, **kwargs)
        return client


def message_text(value: Any) -> Any:
    """A TRL/OpenRLHF completion as text: conversational ``[{"role", "content"}]`` -> the content."""
    if isinstance(value, list) and value and isinstance(value[-1], dict) and "content" in value[-1]:
        return "".join(str(m.get("content", "")) for m in value if m.get("role", "assistant") == "assistant")
    return value


def plain(value: Any) -> bool:
    """True for values that can travel as item metadata (JSON scalars and small containers)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list | tuple):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    return False
