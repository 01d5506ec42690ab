"""Equality of JSON-like values for rules that compare data, not Python objects.

Python says ``True == 1`` and ``(1, 2) != [1, 2]``; a reward must not: a
policy answering ``true`` for an argument of ``1`` has not matched it.
"""

from __future__ import annotations


def same_value(a, b) -> bool:
    """Structural equality where tuples equal lists, ints equal floats, and bools are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
