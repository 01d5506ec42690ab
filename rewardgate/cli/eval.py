"""``rewardgate eval``: a pipeline's accuracy on preference pairs or best-of-N sets.

Scores against a running service (``--url``) or in this process (``--config``,
default the shipped pipeline file), writes ``results.jsonl`` as it goes
(``--resume`` continues an interrupted run), then ``report.json``,
``report.md`` and ``rewards.png`` in ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from rewardgate.errors import ConfigError
from rewardgate.eval.data import DataError, detect_mode, read_records
from rewardgate.eval.report import build_report, markdown, write_json, write_plot
from rewardgate.eval.runner import RESULTS, RunOptions, collected, pending, score_pending


def run_eval(args: argparse.Namespace) -> int:
    try:
        mode = args.mode if args.mode != "auto" else detect_mode(args.input)
        records = read_records(args.input, mode)
    except (DataError, OSError) as exc:
        print(f"rewardgate eval: {args.input}: {exc}", file=sys.stderr)
        return 2
    options = RunOptions(args.pipeline, mode, args.batch_size, args.concurrency)
    todo = pending(records, args.out, args.resume)
    try:
        with (args.out / RESULTS).open("a") as out:
            scored_by = asyncio.run(_score(args, todo, out, options))
    except ConfigError as exc:
        print(f"rewardgate eval: {exc.message}", file=sys.stderr)
        return 2
    results = collected(records, args.out)
    report = build_report(mode, results, args.pipeline, scored_by)
    write_json(report, args.out / "report.json")
    (args.out / "report.md").write_text(markdown(report))
    write_plot(report, results, args.out / "rewards.png")
    print(markdown(report))
    print(f"wrote {args.out}/report.json, report.md, rewards.png", file=sys.stderr)
    failed = report["overall"]["errors"]
    return 1 if failed == len(results) else 0


async def _score(args: argparse.Namespace, todo, out, options: RunOptions) -> str:
    """Score ``todo`` in-process or against ``--url``; returns what scored them, for the report."""
    if args.url:
        from rewardgate.eval.targets import RemoteTarget

        target, scored_by = RemoteTarget(args.url, args.timeout_s, args.batch_size), args.url
    else:
        from rewardgate.config.environment import load_settings
        from rewardgate.eval.targets import InProcessTarget

        overrides = {"config_path": args.config} if args.config else {}
        settings = load_settings({"grpc_port": 0, **overrides}, {"config_path": "--config"})
        target = InProcessTarget(settings, args.timeout_s)
        scored_by = f"this process ({settings.config_path.name})"
    async with target:
        await score_pending(target, todo, out, options)
    return scored_by
