"""The code judge's cost per item: this tree's judge and candidate against a git revision's, side by side.

Only the judge/candidate layer differs between the two sides: each runs
items as the sandbox session does (the candidate and the judge forked from
one warm interpreter, a socket between them, the judge's records read
through a pipe), without the isolation around them, so the figures show
what the judge's own work costs (reading the reference, resolving names,
converting values) and nothing of the namespaces, cgroups or cell.

* ``current``: ``rewardgate/sources/rule/sandbox/`` of this tree;
* ``baseline``: the same folder at ``--baseline`` (default ``f8fbd36``, the
  judge before it owned every comparison), extracted into a temporary folder.

Each side runs in its own fresh ``python -I -S`` process per round (as the
fork server does), for ``--seconds`` per round, rounds rotated
(bench/_rounds.py). The items cycle through three reference styles that
both judges run: MBPP asserts, a unittest module and a HumanEval ``check``.

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._rounds import rotated  # noqa: E402

SANDBOX = "rewardgate/sources/rule/sandbox"
SOLUTION = "import math\ndef add(a, b):\n    return a + b\ndef root(x):\n    return math.sqrt(x)\n"
STYLES = {
    "asserts": "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert root(4) == 2.0\n",
    "unittest": (
        "import unittest\nclass T(unittest.TestCase):\n"
        "    def test_a(self):\n        self.assertEqual(add(1, 2), 3)\n"
        "    def test_b(self):\n        self.assertIn(add(1, 1), [2])\n"
        "    def test_c(self):\n        self.assertAlmostEqual(root(2), 1.41421356, places=6)\n"
    ),
    "humaneval": (
        "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n"
        "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n\ncheck(add)\n"
    ),
}


def serve(folder: str, seconds: float) -> None:
    """In a fresh interpreter: run items with ``folder``'s judge and candidate for ``seconds``."""
    sys.path.insert(0, folder)
    import candidate
    import judge

    payloads = [{"kind": "tests", "tests": tests} for tests in STYLES.values()]
    try:  # the host reads a reference once and passes what it read (a cached summary) to the judge
        import reference

        for payload in payloads:
            payload["reference"] = reference.summary(reference.read(payload["tests"]))
    except ImportError:  # a revision whose judge reads the reference itself
        pass
    cpu_before = _cpu_s()
    items, passed, started = 0, 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for payload in payloads:
            records = run_item(candidate, judge, payload)
            passed += sum(1 for line in records if b'"passed":true' in line)
            items += 1
    elapsed = time.perf_counter() - started
    cpu = _cpu_s() - cpu_before
    print(json.dumps({"items": items, "seconds": elapsed, "cpu_s": cpu, "tests_passed": passed}))


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (the forked judges and candidates)."""
    import resource

    usages = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)


def run_item(candidate, judge, payload: dict) -> list[bytes]:
    judge_end, candidate_end = socket.socketpair()
    candidate_pid = os.fork()
    if candidate_pid == 0:
        judge_end.close()
        candidate.serve(candidate_end.fileno(), SOLUTION)
        os._exit(0)
    candidate_end.close()
    records, results = os.pipe()
    judge_pid = os.fork()
    if judge_pid == 0:
        os.close(records)
        judge.main(judge_end.fileno(), results, payload, 10.0)
        os._exit(0)
    os.close(results)
    judge_end.close()
    with open(records, "rb") as stream:
        lines = stream.readlines()
    os.waitpid(judge_pid, 0)
    os.kill(candidate_pid, 9)
    os.waitpid(candidate_pid, 0)
    return lines


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision, SANDBOX], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / SANDBOX


def one_round(folder: Path, seconds: float) -> dict:
    python = getattr(sys, "_base_executable", sys.executable)
    command = [python, "-I", "-S", __file__, "--serve", str(folder), "--seconds", str(seconds)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="f8fbd36", help="git revision of the other side")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one side's round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.seconds)
        return
    with tempfile.TemporaryDirectory() as temporary:
        sides = {"current": ROOT / SANDBOX, "baseline": extract(args.baseline, Path(temporary))}
        rates: dict[str, list[float]] = {name: [] for name in sides}
        cpu_ms: dict[str, list[float]] = {name: [] for name in sides}
        for round_number in range(args.rounds):
            for name in rotated(list(sides), round_number):
                result = one_round(sides[name], args.seconds)
                rates[name].append(result["items"] / result["seconds"])
                cpu_ms[name].append(1000 * result["cpu_s"] / result["items"])
    report(args.baseline, rates, cpu_ms)


def report(baseline: str, rates: dict, cpu_ms: dict) -> None:
    median = statistics.median
    print(f"{'side':<10} {'items/s':>8} {'CPU ms/item':>12}   items/s per round")
    for name in rates:
        rounds = ", ".join(f"{v:.1f}" for v in rates[name])
        print(f"{name:<10} {median(rates[name]):>8.1f} {median(cpu_ms[name]):>12.2f}   {rounds}")
    wall = [c / b for c, b in zip(rates["current"], rates["baseline"], strict=True)]
    cpu = [c / b for c, b in zip(cpu_ms["current"], cpu_ms["baseline"], strict=True)]
    print(f"items/s, current / baseline per round: {', '.join(f'{r:.2f}' for r in wall)}")
    print(f"CPU per item, current / baseline per round: {', '.join(f'{r:.2f}' for r in cpu)}")
    summary = {
        "baseline": baseline,
        "current_items_per_s": round(median(rates["current"]), 1),
        "baseline_items_per_s": round(median(rates["baseline"]), 1),
        "items_per_s_ratio_median": round(median(wall), 3),
        "current_cpu_ms_per_item": round(median(cpu_ms["current"]), 2),
        "baseline_cpu_ms_per_item": round(median(cpu_ms["baseline"]), 2),
        "cpu_per_item_ratio_median": round(median(cpu), 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
