"""The assembler's bookkeeping: retries, reuse of a finished group's id, bounds."""

import asyncio

import pytest

from rewardgate.core.calls import CallItem
from rewardgate.core.group_assembler import GroupAssembler, wait_filled
from rewardgate.errors import InvalidInput, Overloaded
from rewardgate.items import ScoringItem


def entry(sample_id: str, response: str = "x") -> CallItem:
    return CallItem(sample_id, ScoringItem("q", response), "g")


def test_retries_join_once_and_a_new_id_after_completion_opens_a_fresh_group():
    async def run():
        assembler = GroupAssembler(wait_s=30, max_open=10)
        first = assembler.join("p", "g", 2, [entry("a")], None, False)
        assert assembler.join("p", "g", 2, [entry("a")], None, False) is first  # a retry
        assert not first.complete
        assert assembler.join("p", "g", 2, [entry("b")], None, False) is first and first.complete
        assert assembler.join("p", "g", 2, [entry("b")], None, False) is first  # retry after scoring
        again = assembler.join("p", "g", 2, [entry("c")], None, False)  # next epoch, same prompt id
        assert again is not first and list(again.members) == ["c"]
        assert len(assembler) == 1

    asyncio.run(run())


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (dict(size=3, entries=[entry("b")]), "size 3 differs"),
        (dict(size=2, entries=[entry("a", "other")]), "other content"),
        (dict(size=2, entries=[entry("b"), entry("c")]), "exceed its size"),
        (dict(size=2, entries=[entry("b")], weights={"vote": 2.0}), "weights differ"),
    ],
)
def test_inconsistent_samples_are_invalid_input(second, message):
    async def run():
        assembler = GroupAssembler(wait_s=30, max_open=10)
        assembler.join("p", "g", 2, [entry("a")], None, False)
        with pytest.raises(InvalidInput, match=message):
            assembler.join("p", "g", second["size"], second["entries"], second.get("weights"), False)

    asyncio.run(run())


def test_open_groups_are_bounded_and_expire_at_their_deadline():
    async def run():
        seen = []
        assembler = GroupAssembler(wait_s=0.05, max_open=1, observer=lambda *args: seen.append(args))
        group = assembler.join("p", "g", 2, [entry("a")], None, False)
        with pytest.raises(Overloaded):
            assembler.join("p", "other", 2, [entry("a")], None, False)
        assert not await wait_filled(group, until=float("inf"))  # ends at the group's deadline
        await asyncio.sleep(0.01)
        assert len(assembler) == 0
        assert seen == [(None, None, 1), ("p", False, 0)]

    asyncio.run(run())
