"""partial_groups: the groups a call does not hold whole, and the size errors."""

from __future__ import annotations

import pytest

from rewardgate.core.calls import CallItem
from rewardgate.core.group_membership import partial_groups
from rewardgate.errors import InvalidInput
from rewardgate.items import ScoringItem

ITEM = ScoringItem("p", "r", None, {})


def entries(*specs):
    return [CallItem(item_id, ITEM, group, size) for item_id, group, size in specs]


@pytest.mark.parametrize(
    ("specs", "partial"),
    [
        ([("a", None, None), ("b", "g", None), ("c", "g", None)], {}),  # no sizes: nothing partial
        ([("a", "g", 2), ("b", "g", 2)], {}),
        ([("a", "g", 3), ("b", "g", 3), ("c", None, None)], {"g": [0, 1]}),
        ([("a", None, None), ("b", "h", 2)], {"h": [1]}),
    ],
)
def test_groups_not_held_whole_are_partial(specs, partial):
    assert partial_groups(entries(*specs)) == partial


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([("a", "g", 2), ("b", "g", 3)], "declare different sizes"),
        ([("a", "g", 2), ("b", "g", None)], "some samples declare a size"),
        ([("a", "g", 1), ("b", "g", 1)], "exceed its size"),
        ([(None, "g", 2)], "needs an id"),
        ([("a", None, 2)], "a group size needs a group id"),
    ],
)
def test_inconsistent_sizes_are_refused(specs, message):
    with pytest.raises(InvalidInput, match=message):
        partial_groups(entries(*specs))
