"""Score every slot of the plan that the score table lacks, with a progress bar.

Requests of up to ``batch_size`` request items (a grouped response brings its siblings),
``concurrency`` in flight;
each finished request is appended to the table at once, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import sys

from tqdm import tqdm

from rewardgate.audit.plan import Slot
from rewardgate.audit.scoring import ScoringTarget
from rewardgate.audit.store import ScoreTable


async def score_missing(
    target: ScoringTarget,
    pipeline: str,
    slots: list[Slot],
    table: ScoreTable,
    batch_size: int,
    concurrency: int,
) -> int:
    """Score the slots of ``pipeline`` whose key has no reward in ``table``; returns how many were sent."""
    by_key = {slot.key(pipeline): slot for slot in slots}
    todo = table.missing(by_key)
    gate = asyncio.Semaphore(concurrency)
    with tqdm(total=len(todo), unit="response", desc=pipeline, file=sys.stderr) as progress:

        async def run(keys: list[str]) -> None:
            # A grouped slot sends its siblings too: its own reward is its first item's.
            sent, firsts = [], []
            for key in keys:
                firsts.append(len(sent))
                sent += by_key[key].request_items()
            async with gate:
                scored = await target.score(sent, pipeline)
            table.record([(key, scored[first]) for key, first in zip(keys, firsts, strict=True)])
            progress.update(len(keys))

        await asyncio.gather(*(run(chunk) for chunk in _chunks(todo, by_key, batch_size)))
    return len(todo)


def _chunks(keys: list[str], by_key: dict[str, Slot], batch_size: int) -> list[list[str]]:
    """Consecutive runs of keys whose request items number at most ``batch_size`` (a group is never
    split: a slot larger than the batch goes alone)."""
    chunks: list[list[str]] = []
    size = 0
    for key in keys:
        count = len(by_key[key].request_items())
        if not chunks or size + count > batch_size:
            chunks.append([])
            size = 0
        chunks[-1].append(key)
        size += count
    return chunks
