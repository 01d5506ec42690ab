"""Request limits and normalisation beyond what the wire schema checks.

Raises :class:`PayloadTooLarge` (413) for size limits and
:class:`InvalidInput` (422) for semantic problems, naming the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardgate.chat import text_size
from rewardgate.core.calls import ScoreCall
from rewardgate.errors import InvalidInput, PayloadTooLarge
from rewardgate.items import ScoringItem


@dataclass(frozen=True)
class Limits:
    max_items_per_request: int
    max_text_chars: int
    default_deadline_ms: int
    max_deadline_ms: int


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
    for index, item in enumerate(items):
        _check_text_lengths(index, item, limits.max_text_chars)
    deadline_ms = call.options.deadline_ms or limits.default_deadline_ms
    if deadline_ms > limits.max_deadline_ms:
        raise InvalidInput(f"options.deadline_ms: {deadline_ms} exceeds the maximum {limits.max_deadline_ms}")
    return ValidatedRequest(ids, items, deadline_ms / 1000)


def _check_text_lengths(index: int, item: ScoringItem, max_chars: int) -> None:
    prompt = item.prompt
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
