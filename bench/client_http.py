"""A single-item caller through the Python client, now against a baseline revision.

What a trainer that sends one sample per request gets from one process:
``RewardClient.score([item])`` back to back (sync client, as the TRL, verl and
OpenRLHF adapters use it) on the default ``exact`` pipeline with the cache
off, over HTTP or (``--transport grpc``) gRPC unary. The baseline
(``--baseline``, default ``c856480``: main before the hot path work) is
exported with ``git archive`` and run side by side: its service with its
client, this tree's service with this tree's client, in alternating rounds.
The last line is JSON.

    python bench/client_http.py [--baseline REV] [--transport http|grpc] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._processes import export, start_tree_service, tree_env  # noqa: E402

#: Runs in a subprocess whose PYTHONPATH points at one tree: that tree's client.
CALLER = """
import sys, time
from rewardgate_client import RewardClient
url, seconds = sys.argv[1], float(sys.argv[2])
item = {"response": "answer 7", "reference": "answer 7"}
with RewardClient(url) as client:
    for _ in range(50):
        client.score([item], "exact", cache=False)
    done, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        client.score([item], "exact", cache=False)
        done += 1
print(done / seconds)
"""


def start_service(tree: Path, transport: str) -> tuple[subprocess.Popen, str]:
    """The tree's service, and the URL its client is given for ``transport``."""
    process, url, grpc_port = start_tree_service(tree)
    return process, url if transport == "http" else f"grpc://127.0.0.1:{grpc_port}"


def caller_rate(tree: Path, url: str, seconds: float) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CALLER, url, str(seconds)],
        cwd=tree,
        env=tree_env(tree),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="c856480")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transport", choices=["http", "grpc"], default="http")
    args = parser.parse_args()
    baseline = export(args.baseline, Path(tempfile.mkdtemp(prefix="rg-baseline-")))
    trees = {"baseline": baseline, "current": ROOT}
    services = {name: start_service(tree, args.transport) for name, tree in trees.items()}
    rates: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for round_number in range(args.rounds):
            for name, tree in trees.items():
                rate = caller_rate(tree, services[name][1], args.seconds)
                rates[name].append(rate)
                print(f"round {round_number}: {name:8s} {rate:7.0f} items/s", flush=True)
    finally:
        for process, _ in services.values():
            process.terminate()
            process.wait(30)
    summary = {name: round(statistics.median(values), 1) for name, values in rates.items()}
    summary["ratio"] = round(summary["current"] / summary["baseline"], 2)
    summary["baseline_revision"] = args.baseline
    summary["transport"] = args.transport
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
