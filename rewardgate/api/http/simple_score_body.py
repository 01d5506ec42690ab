"""The common ``/v1/score`` body turned into its call without the wire model: a fast path
that answers exactly what the wire model would, or steps aside.

Most trainers send the plainest body the API takes: a pipeline, items whose
prompt, response, reference, id and group are strings, free-form metadata, and
boolean options. Validating that through the pydantic wire model
(``ScoreRequest.model_validate_json``) and converting it (``codec.score_call``)
cost about 80,000 instructions per single-item request, more than the whole
rest of the HTTP edge (``bench/instructions.py``; docs/benchmarks.md, issue #29).

Contract of :func:`simple_score_call`: it returns the :class:`ScoreCall` that
``score_call(ScoreRequest.model_validate_json(body))`` returns, or None. None
means "not the simple shape, or not certain": any other type, an unknown key,
chat-message prompts, ``{id, size}`` groups, per-request weights, a deadline
that is not a positive JSON integer, a body that is not valid JSON to orjson,
anything :func:`~rewardgate.plain_json.check_plain_json` refuses, or a number
orjson may have read differently (an integer past 64 bits, which orjson reads
as a float). The caller then decodes with the wire model, which also writes
every error message, so errors are unchanged. tests/unit/api/test_simple_score_body.py
compares the two on generated bodies.
"""

from __future__ import annotations

from typing import Any

import orjson

from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.items import new_item
from rewardgate.plain_json import is_plain_parsed

_TOP_KEYS = frozenset({"pipeline", "items", "options"})
_ITEM_KEYS = frozenset({"id", "prompt", "response", "reference", "group", "metadata", "response_images"})
_FLAGS = ("return_components", "cache", "explain", "return_steps")
_OPTION_KEYS = frozenset({*_FLAGS, "deadline_ms"})
_OPTION_DEFAULTS = {"return_components": True, "cache": True, "explain": False, "return_steps": False}
#: orjson reads an integer past 64 bits as a float of at least this size; the wire model keeps
#: the integer (and refuses it). Any float this large steps aside.
_HUGE = float(2**63)
#: An absent metadata field (null is a value the checks must refuse).
_ABSENT = object()


def simple_score_call(body: bytes) -> ScoreCall | None:
    """The call of a simple ``/v1/score`` body, or None (see the module docstring)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not data.keys() <= _TOP_KEYS:
        return None
    pipeline, items = data.get("pipeline"), data.get("items")
    if type(pipeline) is not str or type(items) is not list or not items:
        return None
    options = _options(data["options"]) if "options" in data else CallOptions()
    if options is None:
        return None
    call_items = _call_items(items)
    return None if call_items is None else ScoreCall(pipeline, call_items, options)


def _call_items(items: list) -> list[CallItem] | None:
    """The call items of plain items, or None. Checked inline (no call per item): every field
    is type-checked, so only ``metadata`` can hold numbers or nesting; it alone is walked for
    the plain-JSON limits, at its depth in the body (body, items, item: 3)."""
    call_items = []
    append = call_items.append
    for item in items:
        if type(item) is not dict or not item.keys() <= _ITEM_KEYS:
            return None
        get = item.get
        response, prompt = get("response"), get("prompt", "")
        item_id, reference, group = get("id"), get("reference"), get("group")
        if (
            type(response) is not str
            or type(prompt) is not str
            or (item_id is not None and type(item_id) is not str)
            or (reference is not None and type(reference) is not str)
            or (group is not None and type(group) is not str)
        ):
            return None
        metadata = get("metadata", _ABSENT)
        if metadata is _ABSENT:
            metadata = {}
        elif type(metadata) is not dict or (metadata and not _plain_metadata(metadata)):
            return None
        images = get("response_images", ())  # parsed JSON holds no tuple: () means absent
        if type(images) is not tuple:
            if type(images) is not list or not all(type(image) is str for image in images):
                return None
            images = tuple(images)
        append(CallItem(item_id, new_item(prompt, response, reference, metadata, images), group))
    return call_items


def _plain_metadata(metadata: dict) -> bool:
    # The walk first: it bounds the nesting _has_huge_float recurses into.
    return is_plain_parsed(metadata, 3) and not _has_huge_float(metadata)


def _options(options: Any) -> CallOptions | None:
    if type(options) is not dict or not options.keys() <= _OPTION_KEYS:
        return None
    flags = {}
    for name in _FLAGS:
        value = options.get(name, _OPTION_DEFAULTS[name])
        if type(value) is not bool:
            return None
        flags[name] = value
    deadline_ms = options.get("deadline_ms")
    if deadline_ms is not None and (type(deadline_ms) is not int or deadline_ms <= 0):
        return None
    return CallOptions(deadline_ms=deadline_ms, **flags)


def _has_huge_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return abs(value) >= _HUGE
    if kind is dict:
        return any(_has_huge_float(item) for item in value.values())
    if kind is list:
        return any(_has_huge_float(item) for item in value)
    return False
