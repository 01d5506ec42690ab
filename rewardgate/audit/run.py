"""Score every slot of the plan that the score table lacks, with a progress bar.

Requests of up to ``batch_size`` distinct responses, ``concurrency`` in flight;
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
            async with gate:
                scored = await target.score([by_key[k].request_item() for k in keys], pipeline)
            table.record(list(zip(keys, scored, strict=True)))
            progress.update(len(keys))

        await asyncio.gather(*(run(todo[i : i + batch_size]) for i in range(0, len(todo), batch_size)))
    return len(todo)
