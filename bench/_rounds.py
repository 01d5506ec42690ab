"""Side-by-side measurements in rounds whose order rotates.

Whichever side runs second in a round tends to run faster on these machines
(docs/benchmarks.md), so each round starts with the next side and no side
keeps a place in the order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def rotated(sides: Sequence[T], round_number: int) -> list[T]:
    """``sides`` in round ``round_number``'s order: starting ``round_number`` places in, wrapping."""
    shift = round_number % len(sides)
    return [*sides[shift:], *sides[:shift]]


async def in_rotated_rounds(runs: dict[str, Callable[[], Awaitable[T]]], rounds: int) -> dict[str, list[T]]:
    """Every ``runs[name]()`` once per round for ``rounds`` rounds, in rotated order; each
    name's results in round order."""
    results: dict[str, list[T]] = {name: [] for name in runs}
    for round_number in range(rounds):
        for name in rotated(list(runs), round_number):
            results[name].append(await runs[name]())
    return results
