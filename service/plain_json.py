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


def check_plain_json(value: Any, path: str = "body", depth: int = 0) -> None:
    """Raise ValueError naming ``path`` for anything a request must not carry."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is str:
                _check_text(key, f"{path}.<key>")
            check_plain_json(item, f"{path}.{key}", depth + 1)
    elif kind is list:
        for index, item in enumerate(value):
            check_plain_json(item, f"{path}.{index}", depth + 1)
    else:
        _check_scalar(value, kind, path)


def _check_scalar(value: Any, kind: type, path: str) -> None:
    if kind is str:
        _check_text(value, path)
    elif kind is int and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise ValueError(f"{path}: integer outside the 64-bit range")
    elif kind is float and not math.isfinite(value):
        raise ValueError(f"{path}: {value} is not a finite number")


def _check_text(text: str, path: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path}: contains an unpaired surrogate (not valid Unicode)") from None
