"""Client reuse across adapter calls (one connection pool per process and URL)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import threading
from typing import Any

from rewardgate_client.client import AsyncRewardClient, RewardClient
from rewardgate_client.images import part_with_image

_clients: dict[tuple[str, str], RewardClient] = {}
_loop_clients: dict[tuple[int, str, str], tuple[asyncio.AbstractEventLoop, AsyncRewardClient]] = {}
_lock = threading.Lock()

#: Adapter keyword arguments that configure the client rather than a score call.
CLIENT_OPTIONS = frozenset({"retry", "api_key", "headers", "chunk_size", "max_concurrency"})


def shared_client(url: str, **kwargs: Any) -> RewardClient:
    """The process-wide :class:`RewardClient` for ``url`` and these client options (created on first use)."""
    key = (url, repr(sorted(kwargs.items())))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = RewardClient(url, **kwargs)
        return client


def loop_client(url: str, **kwargs: Any) -> AsyncRewardClient:
    """The :class:`AsyncRewardClient` of the running event loop for ``url`` and these options.

    For async adapters: a client's connections belong to the loop that made them,
    and a trainer may await rewards from more than one loop.
    """
    loop = asyncio.get_running_loop()
    key = (id(loop), url, repr(sorted(kwargs.items())))
    with _lock:
        entry = _loop_clients.get(key)
        if entry is None or entry[0] is not loop:
            entry = _loop_clients[key] = (loop, AsyncRewardClient(url, **kwargs))
        return entry[1]


@atexit.register
def _close_at_exit() -> None:
    """Close the adapters' long-lived clients when the process ends.

    Their connection pools then shut down cleanly instead of being reported
    open (aiohttp logs "Unclosed client session") when collected at exit. A
    client whose loop is already closed is left as it is.
    """
    with _lock:
        clients, loop_clients = list(_clients.values()), list(_loop_clients.values())
        _clients.clear()
        _loop_clients.clear()
    for client in clients:
        with contextlib.suppress(Exception):
            client.close()
    for loop, async_client in loop_clients:
        with contextlib.suppress(Exception):
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(async_client.aclose(), loop).result(timeout=5)
            elif not loop.is_closed():
                loop.run_until_complete(async_client.aclose())


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An adapter's ``**options`` as (client options such as ``retry=RetryPolicy(...)``, score options)."""
    client = {key: value for key, value in options.items() if key in CLIENT_OPTIONS}
    return client, {key: value for key, value in options.items() if key not in CLIENT_OPTIONS}


def content_text(content: Any) -> str:
    """A message's content as text: a string, or the text of its ``{"type": "text"}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return str(content)


def _tool_call_block(call: Any) -> str:
    """A parsed tool call as the ``<tool_call>`` block the policy emitted (Hermes / Qwen form)."""
    function = call.get("function", call) if isinstance(call, dict) else {}
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments)
    body = json.dumps({"name": function.get("name"), "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>{body}</tool_call>"


def message_text(value: Any) -> Any:
    """A completion as text. A conversational completion (a list of messages) gives the
    policy's own turns: every assistant turn's text, and its tool calls as
    ``<tool_call>`` blocks (so the tool-call rule can check them); tool turns are the
    environment's words, not the policy's, and are left out."""
    if not (isinstance(value, list) and value and all(isinstance(m, dict) for m in value)):
        return value
    pieces = []
    for message in value:
        if message.get("role", "assistant") != "assistant":
            continue
        pieces.append(content_text(message.get("content")))
        pieces.extend(_tool_call_block(call) for call in message.get("tool_calls") or ())
    return "\n".join(piece for piece in pieces if piece)


#: Chat message fields the service accepts; others (trainer-specific) are dropped.
_MESSAGE_FIELDS = ("role", "content", "tool_calls", "name", "tool_call_id", "reasoning_content")


def wire_messages(prompt: Any) -> Any:
    """A trainer's prompt as the service takes it: text as is; chat messages keep
    their API fields, and content parts keep their plain fields; an in-memory
    image (a PIL image or bytes, as TRL puts in vision prompts) is sent as a
    data URL (rewardgate_client.images)."""
    if not isinstance(prompt, list):
        return prompt
    messages = []
    for message in prompt:
        if not isinstance(message, dict):
            return prompt  # not chat messages: let the service name the problem
        kept = {key: message[key] for key in _MESSAGE_FIELDS if message.get(key) is not None}
        if isinstance(kept.get("content"), list):
            kept["content"] = [_plain_part(part) for part in kept["content"]]
        if "thinking" in message and "reasoning_content" not in kept and isinstance(message["thinking"], str):
            kept["reasoning_content"] = message["thinking"]
        messages.append(kept)
    return messages


def _plain_part(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    part = part_with_image(part)  # an in-memory image (PIL, bytes) travels as a data URL
    return {key: value for key, value in part.items() if plain(value)}


def plain(value: Any) -> bool:
    """True for values that can travel as item metadata (JSON scalars and small containers)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list | tuple):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    return False
