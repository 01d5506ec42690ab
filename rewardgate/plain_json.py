"""What a request may carry, checked once where it enters (HTTP body or gRPC message).

JSON as parsed by Python admits values that break everything downstream:
strings with unpaired surrogates (``"\\ud800"``: not encodable, so not
hashable into a cache key), nesting hundreds of levels deep, integers past
64 bits and non-finite numbers (``NaN``, ``Infinity``; also from a protobuf
``Struct``). :func:`check_plain_json` refuses them with a message naming the
path, which the wire models turn into a 422 / ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import math
from typing import Any

#: Deepest nesting accepted anywhere in a request (the wire shapes need ~6).
MAX_DEPTH = 32
_INT_RANGE = (-(2**63), 2**64 - 1)


def check_plain_json(value: Any, path: str = "body", *, text: bool = True) -> None:
    """Raise ValueError naming ``path`` for anything a request must not carry.

    ``text=False`` skips the Unicode check of strings, for values a JSON
    parser produced (it refuses unpaired surrogates itself). The walk builds
    no paths; only a refused value is walked again to name where it is.
    """
    if not _is_plain(value, 0, text):
        _name_problem(value, path, 0, text)


def is_plain_parsed(value: Any, depth: int) -> bool:
    """Whether ``value``, produced by a JSON parser and found ``depth`` levels into its
    request, passes :func:`check_plain_json` (``text=False``) there: the walk without the
    naming, for callers that step aside rather than explain (api/http/simple_score_body.py)."""
    return _is_plain(value, depth, False)


def _is_plain(value: Any, depth: int, text: bool) -> bool:
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if kind is str:
        return not text or value.isascii() or _encodable(value)
    if kind is dict:
        return _dict_is_plain(value, depth, text)
    if kind is list:
        return all(_is_plain(item, depth + 1, text) for item in value)
    if kind is int:
        return _INT_RANGE[0] <= value <= _INT_RANGE[1]
    if kind is float:
        return math.isfinite(value)
    return True


def _dict_is_plain(value: dict, depth: int, text: bool) -> bool:
    # A string from a JSON parser (text=False) and None, most of a request's values, are
    # settled here without a call, unless they sit deeper than MAX_DEPTH (refused there).
    settled = depth < MAX_DEPTH
    for key, item in value.items():
        if text and type(key) is str and not (key.isascii() or _encodable(key)):
            return False
        if settled and (item is None or (not text and type(item) is str)):
            continue
        if not _is_plain(item, depth + 1, text):
            return False
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _name_problem(value: Any, path: str, depth: int, text: bool) -> None:
    """Raise the ValueError of the first refused value under ``value``, naming its path."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if text and type(key) is str:
                _check_text(key, f"{path}.<key>")
            _name_problem(item, f"{path}.{key}", depth + 1, text)
    elif kind is list:
        for index, item in enumerate(value):
            _name_problem(item, f"{path}.{index}", depth + 1, text)
    else:
        _check_scalar(value, kind, path, text)


def _check_scalar(value: Any, kind: type, path: str, text: bool) -> None:
    if kind is str and text:
        _check_text(value, path)
    elif kind is int and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise ValueError(f"{path}: integer outside the 64-bit range")
    elif kind is float and not math.isfinite(value):
        raise ValueError(f"{path}: {value} is not a finite number")


def _check_text(text: str, path: str) -> None:
    if not text.isascii() and not _encodable(text):
        raise ValueError(f"{path}: contains an unpaired surrogate (not valid Unicode)")
