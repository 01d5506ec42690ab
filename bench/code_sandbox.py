"""Sandboxed code throughput: the current design against an earlier one, side by side.

Both designs run the same items through the same verifier pool (one worker
per CPU), 64 items per call, in rounds whose order rotates (bench/_rounds.py)
so machine noise hits both alike:

* ``current``: the ``code_tests`` rule as shipped (a bubblewrap cell per
  verifier process, each run prepared in a slot while the previous one runs,
  per-run cgroups where writable);
* ``baseline``: the sandbox of git revision ``--baseline`` (default: the
  root-run fork server with namespaces per run that the bubblewrap cell
  replaced), extracted from history into a temporary folder.

Two kinds of item: ``asserts`` (a correct ``add`` against two asserts: a
candidate and a judge process) and ``stdio`` (a program summing two numbers,
three inputs: a fresh process per input).

Also the start cost per item: one run at a time in one process, mean wall
milliseconds per run of each design (the fork server already warm).

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._rounds import in_rotated_rounds
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import warm_up_rules
from rewardgate.sources.rule.code_cases import parse_reference, stdio_passed
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.registry import build_rule

BASELINE = "f8fbd36"
SANDBOX = "rewardgate/sources/rule/sandbox"
ITEMS = {
    "asserts": ("def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\nassert add(0, 0) == 0\n"),
    "stdio": (
        "a, b = map(int, input().split())\nprint(a + b)\n",
        '{"inputs": ["1 2", "3 4", "5 6"], "outputs": ["3", "7", "11"]}',
    ),
}
_old_runner = None


def extract_baseline(revision: str, into: Path) -> Path:
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{revision}:{SANDBOX}"], check=True, capture_output=True, text=True
    ).stdout.split()
    for name in names:
        text = subprocess.run(
            ["git", "show", f"{revision}:{SANDBOX}/{name}"], check=True, capture_output=True, text=True
        ).stdout
        (into / name).write_text(text)
    return into / "runner.py"


def run_baseline(runner_path: str, kind: str) -> float:
    """In a verifier process: the earlier design's session on the item, scored from its records."""
    global _old_runner
    if _old_runner is None:
        spec = importlib.util.spec_from_file_location("baseline_runner", runner_path)
        _old_runner = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = _old_runner  # dataclasses look their module up there
        spec.loader.exec_module(_old_runner)
    solution, reference = ITEMS[kind]
    plan = parse_reference(reference)
    limits = _old_runner.SandboxLimits(timeout_s=10, memory_mb=512, output_kb=64, processes=32)
    outcome = _old_runner.run_session(plan.mode, solution, plan.payload, limits)
    if plan.mode == "stdio":
        cases = [r["case"] for r in outcome.records if "case" in r]
        return sum(map(stdio_passed, cases, plan.expected)) / len(plan.expected)
    total = next(r["total"] for r in outcome.records if "total" in r)
    return sum(r.get("passed") is True for r in outcome.records) / total


def run_current(rule, kind: str) -> float:
    return rule.grade(ScoringItem("", *ITEMS[kind]))


async def rate(pool: VerifierPool, fn, arg, kind: str, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        scores = await asyncio.gather(*(pool.run(fn, arg, kind, timeout_s=60) for _ in range(64)))
        assert all(score == 1.0 for score in scores), scores
        done += 64
    return done / (time.perf_counter() - start)


def start_cost_ms(fn, arg, kind: str, runs: int = 40) -> float:
    """Mean wall milliseconds of one run, one at a time, in this process (warm)."""
    fn(arg, kind)
    started = time.perf_counter()
    for _ in range(runs):
        fn(arg, kind)
    return round((time.perf_counter() - started) / runs * 1000, 1)


async def measure(runner_path: Path, seconds: float, rounds: int) -> dict[str, dict[str, float]]:
    rule = build_rule("code_tests", {})
    pool = VerifierPool(workers=os.cpu_count() or 1, initializer=functools.partial(warm_up_rules, (rule,)))
    designs = {"current": (run_current, rule), "baseline": (run_baseline, str(runner_path))}
    try:
        for fn, arg in designs.values():  # start the workers and both designs' fork servers
            await rate(pool, fn, arg, "asserts", 0.5)
        runs = {
            (design, kind): functools.partial(rate, pool, fn, arg, kind, seconds)
            for kind in ITEMS
            for design, (fn, arg) in designs.items()
        }
        results = await in_rotated_rounds(runs, rounds)
    finally:
        pool.close()
    rates: dict[str, dict[str, float]] = {kind: {} for kind in ITEMS}
    for (design, kind), values in results.items():
        rates[kind][design] = round(sum(values) / len(values), 1)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the earlier sandbox")
    parser.add_argument("--seconds", type=float, default=3.0, help="per design, kind and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runner_path = extract_baseline(args.baseline, Path(tmp))
        rates = asyncio.run(measure(runner_path, args.seconds, args.rounds))
        rule = build_rule("code_tests", {})
        starts = {
            kind: {
                "current": start_cost_ms(run_current, rule, kind),
                "baseline": start_cost_ms(run_baseline, str(runner_path), kind),
            }
            for kind in ITEMS
        }
    ratios = {kind: round(rates[kind]["current"] / rates[kind]["baseline"], 2) for kind in ITEMS}
    print(f"{'item':<8} {'design':<10} {'items/s':>10} {'ms/run alone':>14}")
    for kind in ITEMS:
        for design, value in rates[kind].items():
            print(f"{kind:<8} {design:<10} {value:>10,.1f} {starts[kind][design]:>14.1f}")
    for kind, ratio in ratios.items():
        print(f"{kind}: current / baseline = {ratio}x ({os.cpu_count()} CPUs, baseline {args.baseline})")
    summary = {"bench": "code_sandbox", "cpus": os.cpu_count(), "items_per_s": rates, "ms_per_run": starts}
    print(json.dumps({**summary, "ratio": ratios}))


if __name__ == "__main__":
    main()
