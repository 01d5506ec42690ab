"""Run an eval: score every record not yet done, then write the report.

Results go to ``OUT/results.jsonl`` as requests finish (one line per record,
flushed), so an interrupted run keeps what it finished and ``--resume``
scores only the rest. The report is always built from every record of the
input found in ``results.jsonl``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from rewardgate.eval.data import BEST_OF_N, Record
from rewardgate.eval.metrics import pair_verdict, top1
from rewardgate.eval.targets import ScoringTarget
from rewardgate.result_files import drop_torn_tail, read_resume_state

RESULTS = "results.jsonl"


@dataclass(frozen=True)
class RunOptions:
    pipeline: str
    mode: str
    batch_items: int = 64
    concurrency: int = 4


def pending(records: list[Record], out_dir: Path, resume: bool) -> list[Record]:
    """The records to score: all of them, or with ``resume`` those without a result in
    ``results.jsonl`` yet (a record that failed is scored again; its new line wins)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS
    if not resume:
        path.write_text("")
        return records
    drop_torn_tail(path)
    state = read_resume_state(path, is_scored, failure_reason)
    todo = [record for record in records if record.id not in state.finished]
    print(state.describe(len(todo), noun="records"), file=sys.stderr)
    return todo


def is_scored(result: dict) -> bool:
    """A result line with a reward for every response."""
    rewards = result.get("rewards")
    return isinstance(rewards, list) and bool(rewards) and all(r is not None for r in rewards)


def failure_reason(result: dict) -> str:
    """The error type of the first failed response of a result line (errors read ``TYPE: message``)."""
    for error in result.get("errors") or []:
        if isinstance(error, str) and error:
            return error.split(":", 1)[0]
    return "no reward"


async def score_pending(target: ScoringTarget, todo: list[Record], out: TextIO, options: RunOptions) -> None:
    """Score ``todo`` in requests of up to ``batch_items`` items, appending a result line per record to
    ``out`` (flushed per request, in completion order)."""
    slots = asyncio.Semaphore(options.concurrency)
    with tqdm(total=len(todo), unit="record", file=sys.stderr) as progress:

        async def run(chunk: list[Record]) -> None:
            async with slots:
                items = [item for record in chunk for item in record.items()]
                scored = await target.score(items, options.pipeline)
            position = 0
            for record in chunk:
                answers = scored[position : position + len(record.responses)]
                position += len(record.responses)
                out.write(json.dumps(result_of(record, answers, options.mode)) + "\n")
            out.flush()
            progress.update(len(chunk))

        await asyncio.gather(*(run(chunk) for chunk in chunks(todo, options.batch_items)))


def collected(records: list[Record], out_dir: Path) -> list[dict]:
    """Every result of ``records`` in ``results.jsonl``, in input order (an id's last line wins)."""
    by_id = {}
    for line in (out_dir / RESULTS).read_text().splitlines():
        result = json.loads(line)
        by_id[result["id"]] = result
    return [by_id[record.id] for record in records if record.id in by_id]


def chunks(records: list[Record], batch_items: int) -> list[list[Record]]:
    """Consecutive records, at most ``batch_items`` items per request (a larger record goes alone)."""
    out: list[list[Record]] = []
    size = 0
    for record in records:
        if out and size + len(record.responses) <= batch_items:
            out[-1].append(record)
            size += len(record.responses)
        else:
            out.append([record])
            size = len(record.responses)
    return out


def result_of(record: Record, answers, mode: str) -> dict[str, Any]:
    rewards = [answer.reward for answer in answers]
    errors = [answer.error for answer in answers]
    result: dict[str, Any] = {
        "id": record.id,
        "subset": record.subset,
        "section": record.section,
        "rewards": rewards,
    }
    if mode == BEST_OF_N:
        failed = any(reward is None for reward in rewards)
        result["correct"] = list(record.correct)
        result["outcome"] = "error" if failed else "scored"
        if not failed:
            result["top1"] = top1(rewards, list(record.correct))
    else:
        result["outcome"] = pair_verdict(rewards[0], rewards[1])
    if any(errors):
        result["errors"] = errors
    return result
