"""``rewardgate score``: send a JSONL file of items through a pipeline.

Items are sent in chunks of ``--batch-size`` with up to ``--concurrency``
requests in flight; results are written in input order, one JSON per line.
A chunk that fails as a whole is written as error results for its items, so
every input line gets exactly one output line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import httpx
from tqdm import tqdm


def run_score(args: argparse.Namespace) -> int:
    items = _read_items(args.input)
    results = asyncio.run(_score_all(args, items))
    with args.output.open("w") as out:
        for result in results:
            out.write(json.dumps(result) + "\n")
    failed = sum(1 for r in results if r.get("status") == "error")
    print(f"scored {len(results)} items, {failed} failed -> {args.output}", file=sys.stderr)
    return 1 if failed == len(results) and results else 0


def _read_items(path) -> list[dict]:
    items = []
    with path.open() as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                item = json.loads(line)
                item.setdefault("id", str(number))
                items.append(item)
    return items


async def _score_all(args: argparse.Namespace, items: list[dict]) -> list[dict]:
    chunks = [items[i : i + args.batch_size] for i in range(0, len(items), args.batch_size)]
    slots = asyncio.Semaphore(args.concurrency)
    progress = tqdm(total=len(items), unit="item", file=sys.stderr)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout_s) as client:

        async def send(chunk: list[dict]) -> list[dict]:
            async with slots:
                results = await _score_chunk(client, args.pipeline, chunk)
                progress.update(len(chunk))
                return results

        answered = await asyncio.gather(*(send(chunk) for chunk in chunks))
    progress.close()
    return [result for chunk in answered for result in chunk]


async def _score_chunk(client: httpx.AsyncClient, pipeline: str, chunk: list[dict]) -> list[dict]:
    try:
        response = await client.post("/v1/score", json={"pipeline": pipeline, "items": chunk})
    except httpx.HTTPError as exc:
        return _failed(chunk, "transport_error", str(exc))
    if response.status_code != 200:
        error = response.json().get("error", {}) if response.content else {}
        return _failed(chunk, error.get("type", "http_error"), error.get("message", response.text))
    return response.json()["results"]


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
