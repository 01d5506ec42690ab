"""Text-only models refuse items that carry images in what they read.

A text model (``kind: reward_model``, ``process_reward_model``, ``likelihood``,
``similarity``) sees a conversation through rewardgate/chat.py: the text parts.
Given an item with images it would score the words while the pixels the
answer is about are gone: a reward that can be gamed (a policy describing an
image it was never shown scores as if it had been checked against it). So, as
a text-only judge (``vision: false``, rewardgate/sources/judge/images.py)
does, the model refuses the item with the per-item ``invalid_component_input``
(cause ``input``: the caller's request, not the response;
docs/reward-algebra.md#failures: item error, reward null; an optional
component is left out).

Which images count: those in the fields the model reads (its ``reads``, which
also enter its cache key, so a refused item can never be answered by a cached
text score): the prompt's image parts, placeholders included (the image exists;
the model would not see it), when it reads the prompt; the response's images
when it reads the response or its steps. A ``similarity`` model reads the
response and the reference, not the prompt: an image in the prompt does not
change what it measures and is not a reason to refuse.
"""

from __future__ import annotations

from rewardgate.errors import InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.media.parts import is_image_part

#: The item field holding a response's images; a text model that reads the response reads it too.
RESPONSE_IMAGES = "response_images"


def with_response_images(reads: tuple[str, ...]) -> tuple[str, ...]:
    """``reads`` plus :data:`RESPONSE_IMAGES` where the response (or its steps) is read: the
    cache key then tells an image-generation item from the text-only item with the same words."""
    if RESPONSE_IMAGES in reads or not {"response", "steps"} & set(reads):
        return reads
    return (*reads, RESPONSE_IMAGES)


def prompt_image_count(item: ScoringItem) -> int:
    """Image parts of the item's prompt, placeholders included."""
    if isinstance(item.prompt, str):
        return 0
    return sum(
        1
        for message in item.prompt
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if is_image_part(part)
    )


def image_refusal(item: ScoringItem, reads: tuple[str, ...], kind: str) -> InvalidComponentInput | None:
    """The error for a text-only model of ``kind`` reading ``reads`` of ``item``; None when
    those fields carry no image."""
    where = []
    if "prompt" in reads and (count := prompt_image_count(item)):
        where.append(f"{count} in its prompt")
    if {"response", "steps"} & set(reads) and item.response_images:
        where.append(f"{len(item.response_images)} in its response_images")
    if not where:
        return None
    return InvalidComponentInput(
        f"a {kind} model is text-only and the item has image(s) ({', '.join(where)}): it would score "
        "the text without the pixels; score image items with a vision_reward_model or a vision judge"
    )
