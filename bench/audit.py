"""``rewardgate audit`` over 1,000 items: wall time of a whole run, in-process, two pipelines.

Builds 1,000 audit items from the shipped samples (numbers varied, so no two
responses are the same and nothing is answered from a cache), then runs
``rewardgate audit`` in this process on

* ``contains``: one inline rule (every probe family for text rules), and
* ``reasoning``: math_verify in the verifier pool + think_answer + an
  overlong penalty (the shipped reasoning pipeline), and
* ``ttrl``: a majority vote gated on a boxed answer (the shipped ttrl_math): every
  response is scored inside a group of five (four background siblings),

side by side in one run. Each time is the run time the report prints
(scoring, resumability writes and every figure; plots and report files
after it). Prints a table, then one JSON object (the last line).

    .venv/bin/python bench/audit.py [--items 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rewardgate.audit.data import SAMPLES
from rewardgate.cli.main import main

CONFIG = """
rules:
  math: {type: math_verify, timeout_s: 5}
  contains: {type: contains}
  think_answer: {type: think_answer}
  boxed: {type: regex, pattern: '\\\\boxed\\{.+\\}'}
pipelines:
  contains:
    components: {hit: {rule: contains}}
  reasoning:
    components: {correct: {rule: math}, structure: {rule: think_answer}}
    constraints: [{if: "structure < 1", reward: -1.0, name: format}]
    length_penalty: {type: overlong, max_length: 4096, cache_length: 512, unit: words}
  ttrl:
    components: {vote: {group: {method: majority_vote, extractor: math, min_votes: 2}}, boxed: {rule: boxed}}
    combine: {weights: {vote: 1.0}}
    gates: [{components: [vote], if: "boxed >= 1", otherwise: 0.0}]
"""


def items(count: int) -> list[dict]:
    """``count`` math items: a + b with the shipped samples' answer styles, each distinct."""
    out = []
    for index in range(count):
        a, b = 100 + index, 7 + index % 13
        out.append(
            {
                "id": f"bench-{index}",
                "prompt": f"What is {a} + {b}?",
                "reference": str(a + b),
                "right": f"{a} + {b} = {a + b}, so the answer is \\boxed{{{a + b}}}.",
                "wrong": f"{a} + {b} = {a + b + 1}, so the answer is \\boxed{{{a + b + 1}}}.",
            }
        )
    assert SAMPLES.exists()
    return out


def run(config: Path, data: Path, out: Path, pipeline: str) -> dict:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(
            ["audit", "--config", str(config), "--data", str(data), "--out", str(out), "--pipeline", pipeline]
        )
    wall = time.perf_counter() - started
    report = json.loads((out / "report.json").read_text())
    assert status == 0
    return {
        "pipeline": pipeline,
        "responses": report["responses"],
        "failed": report["responses_failed"],
        "run_time_s": round(report["run_time_s"], 2),
        "wall_s": round(wall, 2),
        "responses_per_s": round(report["responses"] / report["run_time_s"], 1),
    }


def bench() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pipelines.yaml").write_text(CONFIG)
        data = root / "items.jsonl"
        data.write_text("".join(json.dumps(item) + "\n" for item in items(args.items)))
        names = ("contains", "reasoning", "ttrl")
        rows = [run(root / "pipelines.yaml", data, root / name, name) for name in names]
    print(
        f"{'pipeline':<10} {'responses':>9} {'failed':>6} {'run s':>7} {'wall s':>7} {'resp/s':>7}",
        file=sys.stderr,
    )
    for row in rows:
        print(
            f"{row['pipeline']:<10} {row['responses']:>9} {row['failed']:>6} {row['run_time_s']:>7} "
            f"{row['wall_s']:>7} {row['responses_per_s']:>7}",
            file=sys.stderr,
        )
    ratios = {
        f"{row['pipeline']}_over_contains": round(row["run_time_s"] / rows[0]["run_time_s"], 2)
        for row in rows[1:]
    }
    for name, ratio in ratios.items():
        print(f"{name.replace('_over_', ' / ')} run time: {ratio:.2f}x", file=sys.stderr)
    print(json.dumps({"items": args.items, "runs": rows, "ratios": ratios}))


if __name__ == "__main__":
    bench()
