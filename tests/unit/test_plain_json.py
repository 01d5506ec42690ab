"""check_plain_json at its edges: the depth limit holds for every kind of value, whichever
way the walk settles it (strings and None inside objects are settled without a call)."""

from __future__ import annotations

import pytest

from rewardgate.plain_json import MAX_DEPTH, check_plain_json


def nested(leaf, depth: int):
    """``leaf`` inside ``depth`` objects and lists, alternating: it sits at ``depth``."""
    value = leaf
    for level in range(depth):
        value = {"a": value} if level % 2 == 0 else [value]
    return value


@pytest.mark.parametrize("text", [True, False])
@pytest.mark.parametrize("leaf", ["x", None, 1, 1.5, True])
def test_a_value_at_the_deepest_level_passes_and_one_deeper_is_refused(leaf, text):
    check_plain_json(nested(leaf, MAX_DEPTH), text=text)
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH} levels"):
        check_plain_json(nested(leaf, MAX_DEPTH + 1), text=text)


def test_refused_values_inside_objects_are_named_by_path():
    with pytest.raises(ValueError, match=r"body\.items\.0\.response: contains an unpaired surrogate"):
        check_plain_json({"items": [{"id": None, "response": "\ud800"}]})
    check_plain_json({"items": [{"id": None, "response": "\ud800"}]}, text=False)  # parser-made text
    with pytest.raises(ValueError, match=r"body\.items\.0\.metadata\.n: integer outside"):
        check_plain_json({"items": [{"response": "r", "metadata": {"n": 2**64}}]}, text=False)
    with pytest.raises(ValueError, match=r"body\.x: nan is not a finite number"):
        check_plain_json({"x": float("nan"), "y": "fine"}, text=False)
