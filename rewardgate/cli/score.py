"""``rewardgate score``: send a JSONL file of items through a pipeline.

Uses rewardgate_client (``--url http://...`` or ``grpc://...``): chunks of
``--batch-size`` items, up to ``--concurrency`` in flight, retries of
retryable failures within ``--timeout-s`` per chunk. Results are written in
input order, one JSON per line, flushed as soon as every earlier chunk is
done, so an interrupted run keeps its finished prefix.

Failures, and what the operator sees:

* a chunk that still fails after its retries (service down, 429/503/504) is
  written as error lines (``reward: null``) and the run goes on; the summary
  counts the failures by type;
* an error that no retry and no other chunk can fix (an unknown pipeline, a
  refused API key) stops the run at once, with the reason;
* ``--resume`` keeps the lines that have a reward and scores every other
  item again, failed ones included, and says how many and why.

Exit status: 0 every item has a reward; 1 some have none (``--resume``
retries them); 2 nothing could be done as asked (unreadable input, a
malformed line, a permanent error); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Coroutine, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from rewardgate_client import AsyncRewardClient, RewardgateError
from tqdm import tqdm

from rewardgate.cli.errors import CliError
from rewardgate.result_files import drop_torn_tail, read_resume_state, rewrite_keeping

#: Request errors about one chunk's own items: the chunk is written as failed, the run goes on.
#: Any other error that retrying cannot fix (unknown pipeline, bad API key) stops the run.
CHUNK_ERRORS = frozenset({"invalid_input", "payload_too_large"})


class PermanentFailure(Exception):
    """A request error that every other chunk would get too."""

    def __init__(self, error: RewardgateError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class Tally:
    """What the run wrote."""

    written: int = 0
    failed: Counter[str] = field(default_factory=Counter)

    def add(self, results: list[dict]) -> None:
        self.written += len(results)
        self.failed.update(_error_type(result) for result in results if result.get("reward") is None)


def run_score(args: argparse.Namespace) -> int:
    items = read_items(args.input)
    todo, kept = _resume(args.output, items) if args.resume else (items, 0)
    _check_writable(args.output)
    tally = Tally()
    try:
        asyncio.run(_score_all(args, todo, "a" if args.resume else "w", tally))
    except KeyboardInterrupt:
        raise CliError(_stopped("interrupted", tally, args.output), exit_code=130) from None
    except PermanentFailure as stop:
        reason = f"stopped: {stop.error.error_type}: {stop.error.message}"
        raise CliError(_stopped(reason, tally, args.output), exit_code=2) from None
    print(_summary(tally, kept, args.output), file=sys.stderr)
    return 1 if tally.failed else 0


def has_reward(line: dict) -> bool:
    return line.get("reward") is not None


def _resume(output: Path, items: list[dict]) -> tuple[list[dict], int]:
    """Keep the lines of ``output`` that have a reward (rewriting it without the others); returns
    the items still to score and how many were kept."""
    drop_torn_tail(output)
    state = read_resume_state(output, has_reward, _error_type)
    rewrite_keeping(output, state.kept_lines)
    todo = [item for item in items if item["id"] not in state.finished]
    print(state.describe(len(todo)), file=sys.stderr)
    return todo, len(state.finished)


def read_items(path: Path) -> list[dict]:
    """The JSONL items of ``path``; an item without ``id`` gets its line number.

    Raises:
        CliError: the file cannot be read, or a line is not a JSON object (named by number).
    """
    items = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    items.append(_parse_item(path, number, line))
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return items


def _parse_item(path: Path, number: int, line: str) -> dict:
    try:
        item = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        # The position within the file's line: json's own "line 2 column 1" counted the
        # line's newline as a line of its own.
        raise CliError(f"{path}:{number}: not valid JSON at column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise CliError(f"{path}:{number}: not valid JSON ({exc})") from None
    if not isinstance(item, dict):
        raise CliError(f"{path}:{number}: expected a JSON object (an item), got {type(item).__name__}")
    item.setdefault("id", str(number))
    if not isinstance(item["id"], str):
        raise CliError(f"{path}:{number}: id must be a string, got {json.dumps(item['id'])}")
    return item


def _check_writable(path: Path) -> None:
    """Fail before anything is sent when ``path`` cannot be written (without touching it)."""
    target = path if path.exists() else path.parent
    if not target.exists() or not os.access(target, os.W_OK) or (path.exists() and path.is_dir()):
        problem = "no such directory" if not target.exists() else "not writable"
        raise CliError(f"cannot write {path}: {problem}")


def _summary(tally: Tally, kept: int, output: Path) -> str:
    skipped = f" ({kept} already done)" if kept else ""
    line = f"scored {tally.written} items, {sum(tally.failed.values())} failed{skipped} -> {output}"
    if tally.failed:
        reasons = ", ".join(f"{count} {reason}" for reason, count in tally.failed.most_common())
        line += f"\nfailed: {reasons}; rerun with --resume to score them again"
    return line


def _stopped(reason: str, tally: Tally, output: Path) -> str:
    return f"{reason}; {tally.written} result lines written to {output} (--resume scores the rest)"


async def _score_all(args: argparse.Namespace, items: list[dict], mode: str, tally: Tally) -> None:
    """Score ``items`` into ``args.output`` (opened with ``mode`` once the client is made)."""
    chunks = [items[i : i + args.batch_size] for i in range(0, len(items), args.batch_size)]
    slots = asyncio.Semaphore(args.concurrency)
    async with _client(args) as client:
        bar = tqdm(total=len(items), unit="item", file=sys.stderr)
        with OrderedWriter(args.output, mode, tally) as writer, bar:
            stopped = False  # set by a permanent failure: no chunk is sent after it

            async def send(index: int, chunk: list[dict]) -> None:
                nonlocal stopped
                async with slots:
                    if stopped:
                        return
                    try:
                        results = await _score_chunk(client, args.pipeline, chunk)
                    except PermanentFailure:
                        stopped = True
                        raise
                bar.update(len(chunk))
                writer.add(index, results)

            await _all_or_first_permanent(send(index, chunk) for index, chunk in enumerate(chunks))


async def _all_or_first_permanent(jobs: Iterable[Coroutine]) -> None:
    """Run ``jobs`` together; a PermanentFailure cancels the others and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except BaseExceptionGroup as failures:
        permanent = failures.subgroup(PermanentFailure)
        if permanent is None:
            raise
        raise permanent.exceptions[0] from None


class OrderedWriter:
    """Writes chunks' results to ``path`` in input order, each as soon as every earlier chunk is
    written. The file is opened (with ``mode``) at the first line: a run that stops before it
    (a permanent error, Ctrl-C) leaves an earlier output untouched."""

    def __init__(self, path: Path, mode: str, tally: Tally) -> None:
        self.path = path
        self.mode = mode
        self.tally = tally
        self.out: TextIO | None = None
        self.waiting: dict[int, list[dict]] = {}
        self.next = 0

    def __enter__(self) -> OrderedWriter:
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if self.out is None and exc_type is None:  # a finished run with nothing to write
            self.out = self.path.open(self.mode)
        if self.out is not None:
            self.out.close()

    def add(self, index: int, results: list[dict]) -> None:
        self.waiting[index] = results
        while self.next in self.waiting:
            ready = self.waiting.pop(self.next)
            if self.out is None:
                self.out = self.path.open(self.mode)
            self.out.writelines(json.dumps(result) + "\n" for result in ready)
            self.out.flush()
            self.tally.add(ready)
            self.next += 1


def _client(args: argparse.Namespace) -> AsyncRewardClient:
    """The client for ``--url``; a bad URL or client setting (``REWARDGATE_RETRY_*``) is a CliError."""
    try:
        return AsyncRewardClient(args.url, timeout_s=args.timeout_s, chunk_size=args.batch_size)
    except ValueError as exc:
        raise CliError(str(exc)) from None


async def _score_chunk(client: AsyncRewardClient, pipeline: str, chunk: list[dict]) -> list[dict]:
    try:
        results = await client.score(chunk, pipeline)
    except RewardgateError as exc:
        if not exc.retryable and exc.error_type not in CHUNK_ERRORS:
            raise PermanentFailure(exc) from None
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


def _error_type(line: dict) -> str:
    """Why a line has no reward: its request error, else its first component error."""
    errors = line.get("errors")
    if isinstance(errors, dict):
        for error in errors.values():
            if isinstance(error, dict) and error.get("type"):
                return str(error["type"])
    return "no reward"
