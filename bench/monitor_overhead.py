"""What the reward monitor costs the scoring path, side by side in one process.

Two in-process scorers over the shipped default config (pipeline ``exact``,
an inline rule, cache off) differ only in their monitor: the real
``RewardMonitor`` or one whose ``observe`` does nothing. Rounds alternate
between them; the report gives the median microseconds per request of each
and their ratio, for single-item and 64-item requests, plus the time one
snapshot (what a ``/metrics`` scrape or ``GET /v1/stats`` computes) takes
over a full window. The last line is JSON.

    .venv/bin/python bench/monitor_overhead.py --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rewardgate.api.http.codec import score_call
from rewardgate.api.http.schemas import ScoreRequest
from rewardgate.assembly import build_core
from rewardgate.config.pipeline_file import load_config
from rewardgate.config.settings import Settings
from rewardgate.core.calls import ScoreCall
from rewardgate.core.facade import RewardCore
from rewardgate.reward_monitor.monitor import RewardMonitor


class IdleMonitor(RewardMonitor):
    def observe(self, pipeline, items, outcomes, groups) -> None:
        pass


def request(size: int, round_index: int) -> ScoreCall:
    items = [
        {
            "prompt": f"Question {round_index}-{i}: what is the capital of France?",
            "response": "Paris" if i % 2 else "Lyon, surely",
            "reference": "Paris",
            "group": f"g{round_index}-{i // 8}",
        }
        for i in range(size)
    ]
    return score_call(
        ScoreRequest.model_validate({"pipeline": "exact", "items": items, "options": {"cache": False}})
    )


async def time_round(target: RewardCore, size: int, calls: int, round_index: int) -> float:
    body = request(size, round_index)
    started = time.perf_counter()
    for _ in range(calls):
        await target.score(body)
    return (time.perf_counter() - started) / calls * 1e6


async def main(args: argparse.Namespace) -> dict:
    settings = Settings(grpc_port=0, max_inflight_items=1_000_000)
    config = load_config(settings.config_path)
    monitor = RewardMonitor()
    monitored, idle = (build_core(settings, config, monitor=m) for m in (monitor, IdleMonitor()))
    for core in (monitored, idle):
        await core.start()
    report = {}
    for size, calls in ((1, args.calls), (64, max(1, args.calls // 16))):
        times = {"monitored": [], "idle": []}
        for round_index in range(args.rounds):
            for name, target in (("monitored", monitored), ("idle", idle))[:: 1 if round_index % 2 else -1]:
                times[name].append(await time_round(target, size, calls, round_index))
        medians = {name: statistics.median(values) for name, values in times.items()}
        report[f"items_{size}"] = {
            "us_per_request_monitored": round(medians["monitored"], 1),
            "us_per_request_idle": round(medians["idle"], 1),
            "ratio": round(medians["monitored"] / medians["idle"], 3),
        }
        print(f"{size:>3} item(s)/request: {report[f'items_{size}']}")
    started = time.perf_counter()
    snapshots = 20
    for _ in range(snapshots):
        monitored.stats()
    report["snapshot_ms"] = round((time.perf_counter() - started) / snapshots * 1e3, 2)
    print(f"snapshot over {monitor.window_items} items: {report['snapshot_ms']} ms")
    for core in (monitored, idle):
        await core.close()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000, help="single-item calls per round (64-item: /16)")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
