"""Which samples of a call hold only part of their group (checked the same for every transport)."""

from __future__ import annotations

from collections import defaultdict

from rewardgate.core.calls import CallItem
from rewardgate.errors import InvalidInput
from rewardgate.groups.spec import MAX_GROUP_SIZE


def partial_groups(items: list[CallItem]) -> dict[str, list[int]]:
    """Group id -> indices of the call's samples of groups the call does not hold whole.

    A group without a declared size is whatever the call holds of it. Raises
    :class:`InvalidInput` when samples of one group declare different sizes, a
    call holds more samples than its group's size, a size is out of range, or a
    sample of a group sent over several requests has no id (samples are matched,
    and retries recognised, by id).
    """
    for entry in items:
        if entry.group_size is not None:
            break
    else:
        return {}  # no sizes (most calls): every group is whatever the call holds of it
    members, unsized = _sized_members(items)
    partial = {}
    for group, indices in members.items():
        size = items[indices[0]].group_size
        if any(items[i].group_size != size for i in indices):
            raise InvalidInput(f"group {group!r}: its samples declare different sizes")
        if group in unsized:
            raise InvalidInput(f"group {group!r}: some samples declare a size and some do not")
        if len(indices) > size:
            raise InvalidInput(f"group {group!r}: {len(indices)} samples exceed its size {size}")
        if len(indices) < size:
            missing = [i for i in indices if items[i].id is None]
            if missing:
                raise InvalidInput(
                    f"items[{missing[0]}].id: a sample of a group sent over several requests needs an id"
                )
            partial[group] = indices
    return partial


def _sized_members(items: list[CallItem]) -> tuple[dict[str, list[int]], set[str | None]]:
    """Indices per group id of the samples declaring a size; the group ids of those that do not."""
    members: dict[str, list[int]] = defaultdict(list)
    unsized: set[str | None] = set()
    for index, entry in enumerate(items):
        if entry.group_size is None:
            unsized.add(entry.group)
            continue
        if entry.group is None:
            raise InvalidInput(f"items[{index}].group: a group size needs a group id")
        if not 1 <= entry.group_size <= MAX_GROUP_SIZE:
            raise InvalidInput(f"items[{index}].group.size: must be between 1 and {MAX_GROUP_SIZE}")
        members[entry.group].append(index)
    return members, unsized
