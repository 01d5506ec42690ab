"""The Python client's single-item HTTP rate against what wrk gets over one connection, one run.

One service (the default pipeline file, pipeline ``exact``, cache off) and,
in alternating rounds whose order rotates, two callers of ``POST /v1/score``
with the same single-item body, one request at a time:

* ``wrk``: ``wrk -t1 -c1`` (one keep-alive connection), its req/s;
* ``client``: ``RewardClient.score([item])`` back to back in one process (the
  sync client, as the trainer adapters use it), its items/s;
* ``floor``: bench/raw_caller.py, the least a Python caller can do per exchange
  (a prebuilt request on a keep-alive socket, the reply parsed): what any Python
  client could reach on this machine.

``client_over_wrk`` is the median of the per-round ratios (and their range):
what the Python client leaves of the route's one-connection rate. The last
line is JSON.

    python bench/client_vs_wrk.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._rounds import rotated  # noqa: E402
from bench.client_http import CALLER  # noqa: E402  (the same single-item caller, in its own process)
from bench.hot_path import single_body, wrk  # noqa: E402
from rewardgate.config.settings import default_pipeline_file  # noqa: E402
from tests.support.server import ServiceProcess  # noqa: E402


def client_rate(url: str, seconds: float) -> float:
    run = subprocess.run(
        [sys.executable, "-c", CALLER, url, str(seconds)], capture_output=True, text=True, check=True
    )
    rate, _cpu_us = run.stdout.strip().splitlines()[-1].split()
    return float(rate)


def floor_rate(url: str, seconds: float) -> float:
    """Items/s of bench/raw_caller.py: the least a Python caller can do per exchange."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "raw_caller.py"), url, str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp())
    service = ServiceProcess(default_pipeline_file()).wait()
    route = service.url + "/v1/score"
    measure = {
        "wrk": lambda: wrk(route, single_body(False), 1, args.seconds, workdir)["rps"],
        "client": lambda: client_rate(service.url, args.seconds),
        "floor": lambda: floor_rate(service.url, args.seconds),
    }
    rates: dict[str, list[float]] = {side: [] for side in measure}
    try:
        wrk(route, single_body(False), 1, 1, workdir)  # warm up
        for round_number in range(args.rounds):
            for side in rotated(list(measure), round_number):
                rates[side].append(measure[side]())
                print(f"round {round_number}: {side:6s} {rates[side][-1]:8.0f} /s", flush=True)
    finally:
        service.stop()
    ratios = [c / w for c, w in zip(rates["client"], rates["wrk"], strict=True)]
    floor_ratios = [f / w for f, w in zip(rates["floor"], rates["wrk"], strict=True)]
    print(
        json.dumps(
            {
                "wrk_c1_rps": round(statistics.median(rates["wrk"]), 1),
                "client_items_per_s": round(statistics.median(rates["client"]), 1),
                "client_over_wrk": round(statistics.median(ratios), 3),
                "client_over_wrk_range": [round(min(ratios), 3), round(max(ratios), 3)],
                "floor_items_per_s": round(statistics.median(rates["floor"]), 1),
                "floor_over_wrk": round(statistics.median(floor_ratios), 3),
                "floor_over_wrk_range": [round(min(floor_ratios), 3), round(max(floor_ratios), 3)],
            }
        )
    )


if __name__ == "__main__":
    main()
