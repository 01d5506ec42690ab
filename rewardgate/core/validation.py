"""Request limits and normalisation beyond what the wire schema checks.

Raises :class:`PayloadTooLarge` (413) for size limits and
:class:`InvalidInput` (422) for semantic problems, naming the offending field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rewardgate.chat import text_size
from rewardgate.core.calls import ScoreCall
from rewardgate.errors import InvalidInput, PayloadTooLarge
from rewardgate.items import ScoringItem
from rewardgate.media.parts import ImagePartError, ImagePolicy, canonical_images, canonical_messages


@dataclass(frozen=True)
class Limits:
    max_items_per_request: int
    max_text_chars: int
    default_deadline_ms: int
    max_deadline_ms: int
    #: Image limits and allowed sources (rewardgate/media/); defaults: data only.
    images: ImagePolicy = dataclasses.field(default_factory=ImagePolicy)


@dataclass(frozen=True)
class ValidatedRequest:
    ids: list[str]
    items: list[ScoringItem]
    deadline_s: float


def validate_call(call: ScoreCall, limits: Limits) -> ValidatedRequest:
    """Check limits, assign default ids (the index) and clamp the deadline; the same for every transport."""
    count = len(call.items)
    if count == 0:
        raise InvalidInput("items: at least one item is required")
    if count > limits.max_items_per_request:
        raise PayloadTooLarge(
            f"items: {count} items exceeds the limit of {limits.max_items_per_request} per request"
        )
    ids = [entry.id if entry.id is not None else str(index) for index, entry in enumerate(call.items)]
    if len(set(ids)) != count:
        raise InvalidInput("items[].id: ids must be unique within a request")
    items = [entry.item for entry in call.items]
    if not _plain_text_items(items, limits.max_text_chars):
        # Every item's images first, then every item's lengths: the first error is the same as ever.
        items = [_with_canonical_images(index, item, limits.images) for index, item in enumerate(items)]
        for index, item in enumerate(items):
            _check_text_lengths(index, item, limits.max_text_chars)
    deadline_ms = call.options.deadline_ms or limits.default_deadline_ms
    if deadline_ms > limits.max_deadline_ms:
        raise InvalidInput(f"options.deadline_ms: {deadline_ms} exceeds the maximum {limits.max_deadline_ms}")
    return ValidatedRequest(ids, items, deadline_ms / 1000)


def _plain_text_items(items: list[ScoringItem], max_chars: int) -> bool:
    """Whether every item is the common case, which validation keeps as it came: a text prompt,
    no response images, every text within ``max_chars`` (one loop, no call per item)."""
    for item in items:
        reference = item.reference
        if (
            type(item.prompt) is not str
            or item.response_images
            or len(item.prompt) > max_chars
            or len(item.response) > max_chars
            or (reference is not None and len(reference) > max_chars)
        ):
            return False
    return True


def _check_text_lengths(index: int, item: ScoringItem, max_chars: int) -> None:
    prompt = item.prompt
    if (
        isinstance(prompt, str)
        and len(prompt) <= max_chars
        and len(item.response) <= max_chars
        and len(item.reference or "") <= max_chars
    ):
        return  # the common case, settled without building the table below
    prompt_chars = len(prompt) if isinstance(prompt, str) else sum(text_size(message) for message in prompt)
    for field, size in (
        ("prompt", prompt_chars),
        ("response", len(item.response)),
        ("reference", len(item.reference or "")),
    ):
        if size > max_chars:
            raise PayloadTooLarge(
                f"items[{index}].{field}: {size} characters exceeds the limit of {max_chars}"
            )


def _with_canonical_images(index: int, item: ScoringItem, policy: ImagePolicy) -> ScoringItem:
    """``item`` with its image parts decoded under the limits and made canonical
    (content-addressed data URLs, rewardgate/media/parts.py); 422/413 naming the part."""
    prompt = item.prompt
    if not isinstance(prompt, str):
        try:
            prompt = canonical_messages(prompt, policy)
        except ImagePartError as exc:
            error = PayloadTooLarge if exc.too_large else InvalidInput
            raise error(f"items[{index}].prompt{exc}") from None
    images = item.response_images
    if images:
        try:
            images = canonical_images(images, policy)
        except ImagePartError as exc:
            error = PayloadTooLarge if exc.too_large else InvalidInput
            raise error(f"items[{index}].response_images{exc}") from None
    if prompt is item.prompt and images is item.response_images:
        return item
    return dataclasses.replace(item, prompt=prompt, response_images=images)
