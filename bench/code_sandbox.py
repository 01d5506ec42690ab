"""Sandboxed code throughput: the current design against an earlier one, side by side.

Both run the same item (a correct ``add`` against two asserts) through the
same verifier pool (one worker per CPU), 64 items per call, alternating
rounds so machine noise hits both alike:

* ``current``: the ``code_tests`` rule as shipped (a bubblewrap cell per
  verifier process, a fork per run inside it);
* ``baseline``: the sandbox of git revision ``--baseline`` (default: the
  root-run fork server with namespaces per run that the bubblewrap cell
  replaced), extracted from history into a temporary folder.

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

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import warm_up_rules
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.registry import build_rule

BASELINE = "f8fbd36"
SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(1, 2) == 3\nassert add(0, 0) == 0\n"
_old_runner = None


SANDBOX = "rewardgate/sources/rule/sandbox"


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


def run_baseline(runner_path: str) -> float:
    """In a verifier process: the earlier design's session on the item, scored from its records."""
    global _old_runner
    if _old_runner is None:
        spec = importlib.util.spec_from_file_location("baseline_runner", runner_path)
        _old_runner = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = _old_runner  # dataclasses look their module up there
        spec.loader.exec_module(_old_runner)
    limits = _old_runner.SandboxLimits(timeout_s=10, memory_mb=512, output_kb=64, processes=32)
    outcome = _old_runner.run_session("tests", SOLUTION, {"kind": "tests", "tests": TESTS}, limits)
    total = next(r["total"] for r in outcome.records if "total" in r)
    return sum(r.get("passed") is True for r in outcome.records) / total


def run_current(rule) -> float:
    return rule.evaluate(ScoringItem("", SOLUTION, TESTS))


async def rate(pool: VerifierPool, fn, arg, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        scores = await asyncio.gather(*(pool.run(fn, arg, timeout_s=60) for _ in range(64)))
        assert all(score == 1.0 for score in scores), scores
        done += 64
    return done / (time.perf_counter() - start)


def start_cost_ms(fn, arg, runs: int = 40) -> float:
    """Mean wall milliseconds of one run, one at a time, in this process (warm)."""
    fn(arg)
    started = time.perf_counter()
    for _ in range(runs):
        fn(arg)
    return round((time.perf_counter() - started) / runs * 1000, 1)


async def measure(runner_path: Path, seconds: float, rounds: int) -> dict[str, float]:
    rule = build_rule("code_tests", {})
    pool = VerifierPool(workers=os.cpu_count() or 1, initializer=functools.partial(warm_up_rules, (rule,)))
    try:
        await rate(pool, run_current, rule, 0.5)  # start the workers and their fork servers
        await rate(pool, run_baseline, str(runner_path), 0.5)
        totals = {"current": 0.0, "baseline": 0.0}
        for _ in range(rounds):
            totals["baseline"] += await rate(pool, run_baseline, str(runner_path), seconds)
            totals["current"] += await rate(pool, run_current, rule, seconds)
        return {name: round(total / rounds, 1) for name, total in totals.items()}
    finally:
        pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the earlier sandbox")
    parser.add_argument("--seconds", type=float, default=3.0, help="per design and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runner_path = extract_baseline(args.baseline, Path(tmp))
        rates = asyncio.run(measure(runner_path, args.seconds, args.rounds))
        rule = build_rule("code_tests", {})
        starts = {
            "current": start_cost_ms(run_current, rule),
            "baseline": start_cost_ms(run_baseline, str(runner_path)),
        }
    ratio = round(rates["current"] / rates["baseline"], 2)
    print(f"{'design':<10} {'items/s':>10} {'ms/run alone':>14}")
    for name, value in rates.items():
        print(f"{name:<10} {value:>10,.1f} {starts[name]:>14.1f}")
    print(f"current / baseline = {ratio}x ({os.cpu_count()} CPUs, baseline {args.baseline})")
    summary = {"bench": "code_sandbox", "cpus": os.cpu_count(), "items_per_s": rates, "ms_per_run": starts}
    print(json.dumps({**summary, "ratio": ratio}))


if __name__ == "__main__":
    main()
