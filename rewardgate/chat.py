"""Reading chat messages (the canonical dicts of ``ScoringItem.prompt``) as text.

A message is what :class:`~rewardgate.api.http.schemas.ChatMessage` dumps without its
unset fields: ``role`` and ``content`` (text, or a list of typed parts such
as ``{"type": "text", "text": ...}`` / ``{"type": "image", ...}``), and for
tool use ``tool_calls``, ``name``, ``tool_call_id``; ``reasoning_content``
for reasoning models. Rules, text-only models and judges read text, so this
module decides, in one place, what of a multimodal or tool conversation they
see: the text parts; an image as a ``[image]`` marker in a judge's text (the
judge gets the image itself as an ``image_url`` part, rewardgate/sources/judge/images.py;
vision rules and VLM reward models read the pixels through ``ScoringItem.images``);
a tool call as its name and JSON arguments.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rewardgate.media.parts import IMAGE_PART_TYPES

Message = dict[str, Any]


def content_text(message: Message) -> str:
    """The message's text: its ``content`` string, or its text parts joined by newlines."""
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text") or "" for part in content if part.get("type") == "text")


def for_chat_template(messages: Sequence[Message]) -> list[Message]:
    """Messages a text-only chat template can render: content as text, tool fields kept.

    Most text-model templates concatenate ``content`` as a string; content
    parts would render as a Python list or fail. Tool calls, tool names and
    call ids stay for the templates that render them (others ignore them).
    """
    return [{**message, "content": content_text(message)} for message in messages]


def _call_text(call: Message) -> str:
    function = call.get("function") or {}
    arguments = function.get("arguments", {})
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, sort_keys=True)
    return f"[tool call] {function.get('name', '')}({text})"


def readable(message: Message) -> str:
    """One message as a judge reads it: ``role: text``, images marked, tool calls spelled out."""
    content = message.get("content") or ""
    if isinstance(content, str):
        body = content
    else:
        body = "\n".join(
            (part.get("text") or "") if part.get("type") == "text" else f"[{part.get('type')}]"
            for part in content
        )
    lines = [body] if body else []
    lines.extend(_call_text(call) for call in message.get("tool_calls") or ())
    role = message.get("role", "user")
    if role == "tool" and message.get("name"):
        role = f"tool ({message['name']})"
    return f"{role}: " + "\n".join(lines)


def text_size(value: Any) -> int:
    """Characters of every string in a message (what the per-field size limit counts)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        if value.get("type") in IMAGE_PART_TYPES:
            return 0  # an image is measured by the image limits (rewardgate/media/), not as text
        return sum(text_size(item) for item in value.values())
    if isinstance(value, list):
        return sum(text_size(item) for item in value)
    return 0
