"""``rewardgate audit``: hackability probes, robustness, bias and (``--against``) a comparison.

Scores in this process (``--config``, default the shipped pipeline file) or
against a running service (``--url``), through rewardgate/audit/scoring.py;
scores go to ``OUT/scores.jsonl`` as they come (``--resume`` continues),
then ``report.json``, ``report.md`` and plots are written to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from rewardgate.audit import figures, position
from rewardgate.audit.data import AuditDataError, read_items, read_samples
from rewardgate.audit.plan import Slot, build_plan
from rewardgate.audit.probes import load_probe_file, probes_for
from rewardgate.audit.report import markdown, write_json, write_plots
from rewardgate.audit.run import score_missing
from rewardgate.audit.scoring import (
    ServiceUnreachable,
    component_kinds,
    group_views,
    open_target,
    pairwise_judges,
)
from rewardgate.audit.store import ScoreTable
from rewardgate.cli.errors import CliError


def run_audit(args: argparse.Namespace) -> int:
    started = time.monotonic()
    for path in args.probes or []:
        try:
            load_probe_file(path)
        except ValueError as exc:
            raise CliError(f"--probes {exc}", 2) from None
    try:
        kinds = component_kinds(args.url, args.config, args.pipeline)
        if args.against:
            component_kinds(args.url, args.config, args.against)  # fails early on an unknown name
    except ServiceUnreachable as exc:
        raise CliError(exc.message, 1) from None
    judges = pairwise_judges(args.url, args.config, args.pipeline)
    try:
        items = read_items(args.data) if args.data else read_samples(kinds)
    except (AuditDataError, OSError) as exc:
        raise CliError(f"{args.data or 'samples'}: {exc}", 2) from None
    probes = probes_for(kinds)
    slots = build_plan(items, probes, kinds, group_views(args.url, args.config, args.pipeline))
    honest = [slot for slot in slots if slot.role in ("right", "wrong")]
    table = ScoreTable(args.out, args.resume)
    scored_by, scored_now, verdicts = asyncio.run(_score(args, slots, honest, table, items, judges))

    rewards = {(s.item.id, s.role): table.reward(s.key(args.pipeline)) for s in slots}
    responses = {(s.item.id, s.role): s.response for s in slots}
    report = {
        "pipeline": args.pipeline,
        "against": args.against,
        "scored_by": scored_by,
        "component_kinds": sorted(kinds),
        "items": len(items),
        "responses": len(slots),
        "responses_failed": sum(1 for r in rewards.values() if r is None),
        "errors": _error_sample(table, slots, args.pipeline),
        "scored_now": scored_now,
        "hackability": figures.hackability(items, probes, rewards, responses),
        "robustness": figures.robustness(items, rewards),
        "bias": figures.bias(items, rewards, responses),
    }
    _add_position(report, args, kinds, items, verdicts)
    pairs = None
    if args.against:
        report["comparison"], pairs = _comparison(args, honest, table)
    # From reading the items to the last figure: the report files and plots are not counted.
    report["run_time_s"] = time.monotonic() - started
    if report["responses_failed"] == len(slots):
        raise CliError(f"no response could be scored: {report['errors'][0] if report['errors'] else ''}", 1)
    write_json(report, args.out / "report.json")
    (args.out / "report.md").write_text(markdown(report))
    lengths = [
        (figures.words(responses[key]), reward, key[1].rsplit(":", 1)[-1])
        for key, reward in rewards.items()
        if reward is not None and (key[1] in ("right", "wrong") or key[1].startswith("verbose:"))
    ]
    plots = write_plots(report, lengths, args.out, pairs)
    print(markdown(report))
    print(
        f"wrote {args.out}/report.json, report.md, {', '.join(plots) or 'no plots (no matplotlib)'}",
        file=sys.stderr,
    )
    return 0


async def _score(args, slots: list[Slot], honest: list[Slot], table: ScoreTable, items, judges: list[str]):
    """(scored by, responses sent, each pairwise judge's verdicts in both orders)."""
    target, scored_by = open_target(args.url, args.config, args.timeout_s, args.batch_size)
    async with target:
        sent = await score_missing(target, args.pipeline, slots, table, args.batch_size, args.concurrency)
        if args.against:
            sent += await score_missing(
                target, args.against, honest, table, args.batch_size, args.concurrency
            )
        pairs = position.pair_items(items)
        verdicts = {
            judge: await _in_chunks(
                lambda chunk, judge=judge: target.pairwise_orders(judge, chunk), pairs, args.batch_size, args
            )
            for judge in judges
        }
        # a pair is two scored responses: batch_size // 2 pairs, an even number (both orders together)
        size = max(2, args.batch_size // 2 // 2 * 2)
        compared = await _in_chunks(
            lambda chunk: target.compare(chunk, args.pipeline), position.compare_pairs(items), size, args
        )
    return scored_by, sent, (verdicts, position.compare_verdicts(compared))


async def _in_chunks(call, entries: list, size: int, args) -> list:
    """``call(chunk)`` over consecutive chunks of ``size`` entries, ``concurrency`` in flight, the
    answers concatenated in order (each chunk's deadline starts when it is sent, not all at once)."""
    gate = asyncio.Semaphore(args.concurrency)

    async def one(chunk: list) -> list:
        async with gate:
            return await call(chunk)

    chunks = await asyncio.gather(*(one(entries[i : i + size]) for i in range(0, len(entries), size)))
    return [answer for chunk in chunks for answer in chunk]


def _add_position(report: dict, args, kinds: set[str], items, verdicts: tuple) -> None:
    """The pairwise judges' position figures (bias) and the position_swap row (hackability), or
    why they were not measured (not_probed); the pipeline's own pair scoring in both orders."""
    by_judge, compared = verdicts
    judges = {judge: position.figures(items, found) for judge, found in by_judge.items()}
    report["bias"]["position"] = judges or None
    report["bias"]["pair_scoring"] = position.figures(items, compared)
    report["not_probed"] = {}
    if judges:
        hack = report["hackability"]
        hack["families"]["position_swap"] = position.family(judges)
        probed = [f for f in hack["families"].values() if f["items"]]
        hack["succeeded"] = [n for n, f in hack["families"].items() if f["items"] and f["success_share"] > 0]
        hack["score"] = len(hack["succeeded"]) / len(probed) if probed else None
    elif args.url and any(kind.startswith("judge") for kind in kinds):
        report["not_probed"]["position_swap"] = (
            "a running service returns only a pairwise judge's combined verdict: audit in-process "
            "(--config) to see both orders apart"
        )


def _comparison(args, honest: list[Slot], table: ScoreTable):
    rows = [
        (a, b, slot)
        for slot in honest
        if (a := table.reward(slot.key(args.pipeline))) is not None
        and (b := table.reward(slot.key(args.against))) is not None
    ]
    a = [row[0] for row in rows]
    b = [row[1] for row in rows]
    groups = [row[2].item.id for row in rows]
    labels = [f"{row[2].item.id}/{row[2].role}" for row in rows]
    return figures.compare(a, b, groups, labels), (a, b)


def _error_sample(table: ScoreTable, slots: list[Slot], pipeline: str) -> list[str]:
    """Up to 5 distinct errors of failed responses, for the report."""
    seen: dict[str, None] = {}
    for slot in slots:
        scored = table.scores.get(slot.key(pipeline))
        if scored is not None and scored.reward is None and scored.error:
            seen.setdefault(scored.error)
        if len(seen) >= 5:
            break
    return list(seen)
