"""Request limits and normalisation beyond what the wire schema checks.

Raises :class:`PayloadTooLarge` (413) for size limits and
:class:`InvalidInput` (422) for semantic problems, naming the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.chat import text_size
from service.errors import InvalidInput, PayloadTooLarge
from service.items import ScoringItem
from service.schemas import ScoreItem, ScoreRequest


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


def validate_request(request: ScoreRequest, limits: Limits) -> ValidatedRequest:
    """Check limits, assign default ids, clamp the deadline, build scoring items."""
    if len(request.items) > limits.max_items_per_request:
        raise PayloadTooLarge(
            f"items: {len(request.items)} items exceeds the limit of "
            f"{limits.max_items_per_request} per request"
        )
    ids = [item.id if item.id is not None else str(index) for index, item in enumerate(request.items)]
    if len(set(ids)) != len(ids):
        raise InvalidInput("items[].id: ids must be unique within a request")
    for index, item in enumerate(request.items):
        _check_text_lengths(index, item, limits.max_text_chars)
    deadline_ms = request.options.deadline_ms or limits.default_deadline_ms
    if deadline_ms > limits.max_deadline_ms:
        raise InvalidInput(f"options.deadline_ms: {deadline_ms} exceeds the maximum {limits.max_deadline_ms}")
    return ValidatedRequest(ids, [to_scoring_item(item) for item in request.items], deadline_ms / 1000)


def _check_text_lengths(index: int, item: ScoreItem, max_chars: int) -> None:
    prompt_chars = (
        len(item.prompt)
        if isinstance(item.prompt, str)
        else sum(text_size(message.model_dump(exclude_none=True)) for message in item.prompt)
    )
    for field, size in (
        ("prompt", prompt_chars),
        ("response", len(item.response)),
        ("reference", len(item.reference or "")),
    ):
        if size > max_chars:
            raise PayloadTooLarge(
                f"items[{index}].{field}: {size} characters exceeds the limit of {max_chars}"
            )


def to_scoring_item(item: ScoreItem) -> ScoringItem:
    prompt = (
        item.prompt
        if isinstance(item.prompt, str)
        else [message.model_dump(exclude_none=True) for message in item.prompt]
    )
    return ScoringItem(prompt, item.response, item.reference, dict(item.metadata))
