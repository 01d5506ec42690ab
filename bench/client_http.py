"""A single-item caller through the Python client, now against a baseline revision.

What a trainer that sends one sample per request gets from one process:
``RewardClient.score([item])`` back to back (sync client, as the TRL, verl and
OpenRLHF adapters use it) on the default ``exact`` pipeline with the cache
off, over HTTP or (``--transport grpc``) gRPC unary. The baseline
(``--baseline``, default ``c856480``: main before the hot path work) is
exported with ``git archive`` and run side by side: its service with its
client, this tree's service with this tree's client, in alternating rounds.
The last line is JSON.

    python bench/client_http.py [--baseline REV] [--previous REV] [--transport http|grpc]
                                [--seconds 5] [--rounds 3]

Each caller also reports its own CPU time per call (``time.process_time``:
every thread of the caller's process), the client's share of the round trip.
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
    done, stop, cpu = 0, time.perf_counter() + seconds, time.process_time()
    while time.perf_counter() < stop:
        client.score([item], "exact", cache=False)
        done += 1
    cpu = time.process_time() - cpu
print(done / seconds, 1e6 * cpu / done)
"""


def start_service(tree: Path, transport: str) -> tuple[subprocess.Popen, str]:
    """The tree's service, and the URL its client is given for ``transport``."""
    process, url, grpc_port = start_tree_service(tree)
    return process, url if transport == "http" else f"grpc://127.0.0.1:{grpc_port}"


def caller_rate(tree: Path, url: str, seconds: float) -> tuple[float, float]:
    """Items/s of one single-item caller, and the caller's own CPU µs per call (all its threads)."""
    out = subprocess.run(
        [sys.executable, "-c", CALLER, url, str(seconds)],
        cwd=tree,
        env=tree_env(tree),
        capture_output=True,
        text=True,
        check=True,
    )
    rate, cpu_us = out.stdout.strip().splitlines()[-1].split()
    return float(rate), float(cpu_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="c856480")
    parser.add_argument("--previous", help="a second baseline revision, run side by side as well")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transport", choices=["http", "grpc"], default="http")
    args = parser.parse_args()
    trees = {"baseline": export(args.baseline, Path(tempfile.mkdtemp(prefix="rg-baseline-")))}
    if args.previous:
        trees["previous"] = export(args.previous, Path(tempfile.mkdtemp(prefix="rg-previous-")))
    trees["current"] = ROOT
    services = {name: start_service(tree, args.transport) for name, tree in trees.items()}
    rates: dict[str, list[float]] = {name: [] for name in trees}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for round_number in range(args.rounds):
            for name, tree in trees.items():
                rate, cpu_us = caller_rate(tree, services[name][1], args.seconds)
                rates[name].append(rate)
                cpu[name].append(cpu_us)
                print(
                    f"round {round_number}: {name:8s} {rate:7.0f} items/s, caller CPU {cpu_us:5.0f} µs/call",
                    flush=True,
                )
    finally:
        for process, _ in services.values():
            process.terminate()
            process.wait(30)
    summary: dict = {name: round(statistics.median(values), 1) for name, values in rates.items()}
    summary["caller_cpu_us_per_call"] = {name: round(statistics.median(v), 1) for name, v in cpu.items()}
    summary["ratio"] = round(summary["current"] / summary["baseline"], 2)
    if args.previous:
        summary["ratio_to_previous"] = round(summary["current"] / summary["previous"], 2)
        summary["previous_revision"] = args.previous
    summary["baseline_revision"] = args.baseline
    summary["transport"] = args.transport
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
