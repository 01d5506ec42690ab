"""``rewardgate score``: send a JSONL file of items through a pipeline.

Uses rewardgate_client (``--url http://...`` or ``grpc://...``): chunks of
``--batch-size`` items, up to ``--concurrency`` in flight, retries of
retryable failures within ``--timeout-s`` per chunk. Results are written in
input order, one JSON per line, flushed as soon as every earlier chunk is
done, so an interrupted run keeps its finished prefix: ``--resume`` skips the
ids already in the output file and appends the rest. A chunk that fails as a
whole is written as error results for its items, so every input line gets
exactly one output line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path

from rewardgate_client import AsyncRewardClient, RewardgateError
from tqdm import tqdm

from rewardgate.cli.jsonl import drop_torn_tail, finished_ids


def run_score(args: argparse.Namespace) -> int:
    items = _read_items(args.input)
    if args.resume:
        drop_torn_tail(args.output)
    done = finished_ids(args.output) if args.resume else set()
    todo = [item for item in items if item["id"] not in done]
    mode = "a" if args.resume else "w"
    with args.output.open(mode) as out:
        failed = asyncio.run(_score_all(args, todo, out))
    total = len(todo)
    skipped = f" ({len(done)} already done)" if done else ""
    print(f"scored {total} items, {failed} failed{skipped} -> {args.output}", file=sys.stderr)
    return 1 if total and failed == total else 0


def _read_items(path: Path) -> list[dict]:
    items = []
    with path.open() as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                item = json.loads(line)
                item.setdefault("id", str(number))
                items.append(item)
    return items


async def _score_all(args: argparse.Namespace, items: list[dict], out) -> int:
    chunks = [items[i : i + args.batch_size] for i in range(0, len(items), args.batch_size)]
    slots = asyncio.Semaphore(args.concurrency)
    finished: dict[int, list[dict]] = {}
    next_to_write = 0
    failed = 0
    progress = tqdm(total=len(items), unit="item", file=sys.stderr)
    async with AsyncRewardClient(args.url, timeout_s=args.timeout_s, chunk_size=args.batch_size) as client:

        async def send(index: int, chunk: list[dict]) -> None:
            nonlocal next_to_write, failed
            async with slots:
                results = await _score_chunk(client, args.pipeline, chunk)
            finished[index] = results
            failed += sum(1 for r in results if r["status"] == "error")
            progress.update(len(chunk))
            while next_to_write in finished:  # keep the file in input order
                for result in finished.pop(next_to_write):
                    out.write(json.dumps(result) + "\n")
                out.flush()
                next_to_write += 1

        await asyncio.gather(*(send(index, chunk) for index, chunk in enumerate(chunks)))
    progress.close()
    return failed


async def _score_chunk(client: AsyncRewardClient, pipeline: str, chunk: list[dict]) -> list[dict]:
    try:
        results = await client.score(chunk, pipeline)
    except RewardgateError as exc:
        return _failed(chunk, exc.error_type, exc.message)
    return [
        {key: value for key, value in asdict(result).items() if key != "pipeline_hash" and value is not None}
        | {"reward": result.reward}
        for result in results
    ]


def _failed(chunk: list[dict], error_type: str, message: str) -> list[dict]:
    return [
        {
            "id": item["id"],
            "reward": None,
            "status": "error",
            "errors": {"request": {"type": error_type, "message": message}},
        }
        for item in chunk
    ]
