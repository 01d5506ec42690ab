"""What a new or recycled verifier worker's first task costs, by the module its function is in.

A pool task names its function by module; unpickling it in a worker imports that
module. Each round starts fresh interpreters that first do what the pool's
initializer does (build and warm the math rule), then time the unpickling of a
task whose function is

* ``old``: ``rewardgate.sources.rule.source`` (where the function lived: the rule
  source module, which imports metrics, the store, pydantic models);
* ``new``: ``rewardgate.sources.rule.base.grade_in_worker`` (already imported
  by the initializer).

The two alternate within a round (the machine's load hits both alike); medians of
``--rounds``. Prints one line per round and a JSON summary (the last line).
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import pickle, sys, time
sys.path.insert(0, {root!r})
from rewardgate.sources.rule.base import warm_up_rules
from rewardgate.sources.rule.registry import build_rule
warm_up_rules([build_rule("math_verify", {{}})])
started = time.perf_counter()
{load}
print(time.perf_counter() - started)
"""


def loads() -> dict[str, str]:
    """The statement each child times. pickle names a function by module and qualified name:
    loading it imports that module, which is all the old function's loading cost beyond this."""
    sys.path.insert(0, str(ROOT))
    from rewardgate.sources.rule.base import grade_in_worker

    return {
        "old": "import importlib; importlib.import_module('rewardgate.sources.rule.source')",
        "new": f"pickle.loads({pickle.dumps(grade_in_worker)!r})",
    }


def once(which: str) -> float:
    code = CHILD.format(root=str(ROOT), load=loads()[which])
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"old": [], "new": []}
    for index in range(args.rounds):
        order = ("old", "new") if index % 2 == 0 else ("new", "old")
        for which in order:
            times[which].append(once(which))
        print(
            f"round {index + 1}: old {times['old'][-1] * 1000:.0f} ms, new {times['new'][-1] * 1000:.1f} ms"
        )
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    print(
        json.dumps(
            {"old_ms": round(old * 1000, 1), "new_ms": round(new * 1000, 2), "ratio": round(old / new)}
        )
    )


if __name__ == "__main__":
    main()
