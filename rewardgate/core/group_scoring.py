"""Calls that hold part of a group sent over several requests (``group: {id, size}``).

Such a call's samples join their group here (rewardgate/core/group_assembler.py)
and are answered from the group's one evaluation once it is whole, or go to the
replica that owns the group (rewardgate/core/group_forward.py); the call's other
items are evaluated at once. Evaluating is the scorer's (core/scorer.py): this
module only decides who waits for what, and for how long.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rewardgate.auth.caller import current_key
from rewardgate.auth.keys import digest
from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.group_assembler import GroupAssembler, OpenGroup, wait_filled
from rewardgate.core.group_forward import forward
from rewardgate.errors import DeadlineExceeded
from rewardgate.groups.peers import Peers
from rewardgate.items import ScoringItem
from rewardgate.pipeline.evaluator import ScoredItem
from rewardgate.pipeline.plan import Pipeline
from rewardgate.sources.base import Spend

#: Share of a request's budget its samples may wait for their groups; the rest is for scoring.
GROUP_WAIT_SHARE = 0.8

#: The scorer's admitted evaluation: (pipeline, items, groups, options, deadline, spent,
#: groups given up at their deadline) -> one scored item per item.
Evaluate = Callable[
    [Pipeline, list[ScoringItem], list, CallOptions, float, Spend, frozenset],
    Awaitable[list[ScoredItem]],
]


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _retrieve(task: asyncio.Task) -> None:
    """Marks a group evaluation's failure as seen: its waiters may all have gone."""
    if not task.cancelled():
        task.exception()


@dataclass
class _Assembly:
    """One call's part in groups sent over several requests: what its samples' tasks share."""

    pipeline: Pipeline
    call: ScoreCall
    validated: object
    started: float
    spent: Spend
    forwarded: set[int]
    scored_items: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scored_items = [None] * len(self.call.items)

    @property
    def deadline(self) -> float:
        return self.started + self.validated.deadline_s


def _scoped_to_tenant(partial: dict[str, list[int]]) -> dict[str, list[int]]:
    """Group ids made the caller's (``NAME:id`` under API key NAME): two tenants' samples never
    meet in one group, whatever ids they send (``slime-7``, ``verl-3`` are easy to guess)."""
    key = current_key.get()
    if key is None:
        return partial
    return {f"{key.name}:{group_id}": indices for group_id, indices in partial.items()}


class GroupScoring:
    """Scores calls holding part of some groups, through the scorer's ``evaluate``."""

    def __init__(
        self,
        evaluate: Evaluate,
        assembler: GroupAssembler,
        peers: Peers | None = None,
        peer_api_key: str | None = None,
    ) -> None:
        self._evaluate = evaluate
        #: Groups sent over several requests, open in this replica.
        self._assembler = assembler
        #: The replicas groups are spread over (REWARDGATE_GROUP_PEERS); None: this one alone.
        self._peers = peers
        self._peer_api_key = peer_api_key

    async def score(
        self,
        pipeline: Pipeline,
        call: ScoreCall,
        validated,
        partial: dict[str, list[int]],
        started: float,
        spent: Spend,
        forwarded: set[int],
    ) -> list[ScoredItem]:
        """A call holding part of some groups: those samples join their groups here
        (rewardgate/core/group_assembler.py) or go to the replica owning them
        (rewardgate/core/group_forward.py), while the rest is evaluated at once."""
        run = _Assembly(pipeline, call, validated, started, spent, forwarded)
        from_peer = call.forwarded and self._sent_by_a_peer()
        if not from_peer:  # a peer forwards ids it has already scoped to their tenant
            partial = _scoped_to_tenant(partial)
        remote = self._remote_owners(partial, from_peer)
        # Joined first, all of them: a malformed group is a 422 before anything runs.
        joined = {g: self._join(run, g, indices) for g, indices in partial.items() if g not in remote}
        waiting = {i for indices in partial.values() for i in indices}
        local = [i for i in range(len(call.items)) if i not in waiting]
        try:
            async with asyncio.TaskGroup() as tasks:
                if local:
                    tasks.create_task(self._evaluate_part(run, local, [call.items[i].group for i in local]))
                for group_id, (group, owner) in joined.items():
                    tasks.create_task(self._await_group(run, group, owner, partial[group_id]))
                for group_id, owner_url in remote.items():
                    tasks.create_task(self._send_on(run, group_id, owner_url, partial[group_id]))
        except BaseExceptionGroup as failed:
            raise _first_leaf(failed) from None  # the typed error itself, as a plain evaluation raises it
        return run.scored_items

    async def _evaluate_part(
        self, run: _Assembly, indices: list[int], groups: list[str | None], incomplete=frozenset()
    ) -> None:
        items = [run.validated.items[i] for i in indices]
        options = run.call.options
        scored = await self._evaluate(
            run.pipeline, items, groups, options, run.deadline, run.spent, incomplete
        )
        for index, scored_item in zip(indices, scored, strict=True):
            run.scored_items[index] = scored_item

    async def _await_group(self, run: _Assembly, group: OpenGroup, owner: bool, indices: list[int]) -> None:
        """The scored items of the call's samples of ``group``: from its one evaluation once it is
        whole, or ``group_incomplete`` when waiting ends first."""
        # Waiting ends at 80% of the budget at the latest, leaving the rest to score.
        if not await wait_filled(group, run.started + GROUP_WAIT_SHARE * run.validated.deadline_s):
            await self._evaluate_part(run, indices, [group.id] * len(indices), frozenset([group.id]))
            return
        try:
            async with asyncio.timeout(max(run.deadline - time.monotonic(), 0.0)):
                by_id, group_spent = await asyncio.shield(group.scoring)
        except TimeoutError:
            raise DeadlineExceeded(
                f"request deadline of {run.validated.deadline_s * 1000:.0f} ms passed"
            ) from None
        if owner:
            run.spent.add(group_spent)
        for index in indices:
            run.scored_items[index] = by_id[run.validated.ids[index]]

    async def _send_on(self, run: _Assembly, group_id: str, owner_url: str, indices: list[int]) -> None:
        entries = [CallItem(run.validated.ids[i], run.validated.items[i], group_id) for i in indices]
        size = run.call.items[indices[0]].group_size
        options = run.call.options
        by_id = await forward(
            owner_url, run.pipeline.name, entries, size, options, run.deadline, self._peer_api_key
        )
        for index in indices:
            run.scored_items[index] = by_id[run.validated.ids[index]]
            run.forwarded.add(index)

    def _sent_by_a_peer(self) -> bool:
        """Whether the call comes from another replica: with API keys on, only the peers' key may
        say so (``?forwarded=1`` from anyone else is scoped and routed like any call)."""
        key = current_key.get()
        if key is None:
            return True
        return self._peer_api_key is not None and hmac.compare_digest(key.digest, digest(self._peer_api_key))

    def _remote_owners(self, partial: dict[str, list[int]], forwarded: bool) -> dict[str, str]:
        """Group id -> owner URL, for the call's partial groups another replica owns."""
        if self._peers is None or forwarded:
            return {}
        owners = {group_id: self._peers.owner(group_id) for group_id in partial}
        return {g: url for g, url in owners.items() if url is not None and not self._peers.is_self(url)}

    def _join(self, run: _Assembly, group_id: str, indices: list[int]) -> tuple[OpenGroup, bool]:
        """The call's samples ``indices`` joined to their group; (the group, whether this call
        completed it and so started its one evaluation)."""
        validated, options = run.validated, run.call.options
        entries = [CallItem(validated.ids[i], validated.items[i], group_id) for i in indices]
        size = run.call.items[indices[0]].group_size
        group = self._assembler.join(
            run.pipeline.name, group_id, size, entries, options.weights, options.explain
        )
        if not group.complete or group.scoring is not None:
            return group, False
        deadline = time.monotonic() + validated.deadline_s
        group.scoring = asyncio.create_task(self._score_group(run.pipeline, group, options.cache, deadline))
        group.scoring.add_done_callback(_retrieve)
        return group, True

    async def _score_group(self, pipeline: Pipeline, group: OpenGroup, cache: bool, deadline: float):
        """The one evaluation of an assembled group: every sample's scored item by id, and its cost."""
        entries = list(group.members.values())
        spent = Spend()
        options = CallOptions(cache=cache, explain=group.explain, weights=group.weights)
        try:
            scored_items = await self._evaluate(
                pipeline, [e.item for e in entries], [group.id] * len(entries), options, deadline, spent
            )
        except BaseException:
            self._assembler.forget(group)  # a retry assembles the group afresh
            raise
        return {e.id: o for e, o in zip(entries, scored_items, strict=True)}, spent
