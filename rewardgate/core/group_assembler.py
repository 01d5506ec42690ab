"""Groups whose samples arrive over several requests, assembled in one process.

A sample that declares ``group: {id, size}`` in a request that does not hold
its whole group *joins* the group's open entry here, keyed by pipeline and
group id. The request that brings the last sample starts the group's one
evaluation (every sample at once, exactly as if one request had carried the
group); every waiting request takes its own samples' outcomes from it.

Bounded wait: a group's deadline is its first sample's arrival plus
``REWARDGATE_GROUP_WAIT_MS``. A request waits for its groups until that
deadline or until 80% of its own budget is spent, whichever is first, and
then answers the samples of groups still open ``group_incomplete``
(rewardgate/pipeline/group_column.py): never a value computed from part of a group.
An open group stays until its deadline, so a sample retried with the same id
joins it again (or, once scored, is answered from it); a sample reusing an id
with different content is a 422. A sample with a new id for a group that is
already complete starts a new group under the same id (trainers reuse a
prompt's id in the next epoch). Samples are matched by their ``id``, which a
group sent over several requests must carry.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from rewardgate.core.calls import CallItem
from rewardgate.errors import InvalidInput, Overloaded


@dataclass
class OpenGroup:
    """One group being assembled: its samples by id, in order of arrival."""

    pipeline: str
    id: str
    size: int
    deadline: float
    weights: dict[str, float] | None
    members: dict[str, CallItem] = field(default_factory=dict)
    explain: bool = False
    #: Set once the last sample joined.
    filled: asyncio.Event = field(default_factory=asyncio.Event)
    #: The group's one evaluation: every sample's outcome by id.
    scoring: asyncio.Task | None = None

    @property
    def complete(self) -> bool:
        return len(self.members) == self.size


class GroupAssembler:
    """Open groups of one process, each dropped at its deadline (or when its scoring failed)."""

    def __init__(self, wait_s: float, max_open: int, observer=None) -> None:
        self.wait_s = wait_s
        self.max_open = max_open
        self._open: dict[tuple[str, str], OpenGroup] = {}
        #: Told ``(pipeline, completed, open groups)`` of every group dropped, and
        #: ``(None, None, open groups)`` of every group opened (metrics).
        self._observer = observer

    def __len__(self) -> int:
        return len(self._open)

    def join(
        self,
        pipeline: str,
        group_id: str,
        size: int,
        entries: list[CallItem],
        weights: dict[str, float] | None,
        explain: bool,
    ) -> OpenGroup:
        """Add ``entries`` (samples of one group, each with an id) to the group's entry.

        Raises:
            InvalidInput: the size or per-call weights differ from the group's, an id
                comes back with other content, or the group would exceed its size.
            Overloaded: too many groups are open.
        """
        key = (pipeline, group_id)
        group = self._open.get(key)
        if group is not None and group.complete and any(e.id not in group.members for e in entries):
            group = None  # a new group reusing a finished one's id (the next epoch's prompt): a fresh entry
        if group is None:
            if len(self._open) >= self.max_open:
                raise Overloaded(f"{len(self._open)} groups are being assembled; limit is {self.max_open}")
            group = OpenGroup(pipeline, group_id, size, time.monotonic() + self.wait_s, weights)
        if group.size != size:
            raise InvalidInput(
                f"group {group_id!r}: size {size} differs from its other samples' {group.size}"
            )
        if (group.weights or None) != (weights or None):
            raise InvalidInput(f"group {group_id!r}: options.weights differ from its other samples'")
        new = _new_members(group, entries)
        if len(group.members) + len(new) > size:
            raise InvalidInput(
                f"group {group_id!r}: {len(group.members) + len(new)} distinct samples exceed its size {size}"
            )
        if self._open.get(key) is not group:
            self._open[key] = group
            asyncio.get_running_loop().call_at(_loop_time(group.deadline), self._expire, key, group)
            if self._observer is not None:
                self._observer(None, None, len(self._open))
        group.members.update(new)
        group.explain = group.explain or explain
        if group.complete:
            group.filled.set()
        return group

    def forget(self, group: OpenGroup) -> None:
        """Drop ``group`` now (its evaluation failed: a retry must assemble it afresh)."""
        if self._open.get((group.pipeline, group.id)) is group:
            del self._open[(group.pipeline, group.id)]

    def _expire(self, key: tuple[str, str], group: OpenGroup) -> None:
        if self._open.get(key) is group:
            del self._open[key]
        if self._observer is not None:
            self._observer(group.pipeline, group.complete, len(self._open))


def _new_members(group: OpenGroup, entries: list[CallItem]) -> dict[str, CallItem]:
    """The entries ``group`` does not hold yet; a known id must come back with the same content."""
    new: dict[str, CallItem] = {}
    for entry in entries:
        known = group.members.get(entry.id) or new.get(entry.id)
        if known is not None and known.item != entry.item:
            raise InvalidInput(f"group {group.id!r}: sample id {entry.id!r} was sent with other content")
        if known is None:
            new[entry.id] = entry
    return new


def _loop_time(monotonic_deadline: float) -> float:
    """A ``time.monotonic`` instant on the running loop's clock (the same clock by default)."""
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())


async def wait_filled(group: OpenGroup, until: float) -> bool:
    """Whether ``group`` has all its samples by ``until`` (a ``time.monotonic`` instant)."""
    if group.filled.is_set():
        return True
    remaining = min(until, group.deadline) - time.monotonic()
    if remaining <= 0:
        return False
    try:
        async with asyncio.timeout(remaining):
            await group.filled.wait()
    except TimeoutError:
        return group.filled.is_set()
    return True
