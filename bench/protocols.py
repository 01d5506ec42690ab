"""HTTP vs gRPC vs gRPC streaming, through rewardgate_client, in one run.

One service process (the shipped default config, pipeline ``exact``: an
inline rule, so the figures are protocol and service overhead rather than
model time; ``cache: false`` so every item is computed). For each protocol:

* ``single``: ``--callers`` concurrent callers, each sending one-item requests
  back to back (the OpenRLHF/slime pattern); for streaming, one ScoreStream
  with the same number of items in flight;
* ``batch64``: ``--batch-callers`` callers sending 64-item requests; for
  streaming, one stream with 64 x batch-callers items in flight.

Reports items/s and per-request (per-item for streams) p50/p99 latency.
Client and server share the machine's cores, so absolute numbers are
conservative; compare ratios within one run. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rewardgate_client import AsyncRewardClient

from service.settings import default_pipeline_file
from tests.support.server import ServiceProcess


def summary(latencies: list[float], items: int, seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "items_per_s": round(items / seconds, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2),
    }


def make_items(start: int, count: int) -> list[dict]:
    return [
        {"id": str(start + i), "response": f"answer {start + i}", "reference": "answer 7"}
        for i in range(count)
    ]


async def unary(url: str, callers: int, size: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    sent = 0
    async with AsyncRewardClient(url, chunk_size=size, max_concurrency=1) as client:
        await client.score(make_items(0, size), "exact", cache=False)  # warm the connection
        stop = time.perf_counter() + seconds

        async def caller(offset: int) -> None:
            nonlocal sent
            counter = 0
            while time.perf_counter() < stop:
                items = make_items(offset * 10_000_000 + counter, size)
                started = time.perf_counter()
                results = await client.score(items, "exact", cache=False)
                latencies.append(time.perf_counter() - started)
                assert len(results) == size and results[0].status == "ok"
                sent += size
                counter += size

        began = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(callers)))
        elapsed = time.perf_counter() - began
    return summary(latencies, sent, elapsed)


async def streaming(url: str, in_flight: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    window = asyncio.Semaphore(in_flight)
    stop = time.perf_counter() + seconds
    received = 0
    async with AsyncRewardClient(url) as client:

        async def items():
            counter = 0
            while time.perf_counter() < stop:
                await window.acquire()
                item = make_items(counter, 1)[0]
                sent_at[item["id"]] = time.perf_counter()
                counter += 1
                yield item

        began = time.perf_counter()
        async for answer in client.stream(items(), "exact", cache=False):
            latencies.append(time.perf_counter() - sent_at.pop(answer.id))
            received += 1
            window.release()
        elapsed = time.perf_counter() - began
    return summary(latencies, received, elapsed)


async def measure(
    service: ServiceProcess, args: argparse.Namespace
) -> dict[str, dict[str, dict[str, float]]]:
    http, grpc_url = service.url, f"grpc://{service.grpc_target}"
    figures: dict[str, dict[str, dict[str, float]]] = {"single": {}, "batch64": {}}
    figures["single"]["http"] = await unary(http, args.callers, 1, args.seconds)
    figures["single"]["grpc"] = await unary(grpc_url, args.callers, 1, args.seconds)
    figures["single"]["grpc_stream"] = await streaming(grpc_url, args.callers, args.seconds)
    figures["batch64"]["http"] = await unary(http, args.batch_callers, 64, args.seconds)
    figures["batch64"]["grpc"] = await unary(grpc_url, args.batch_callers, 64, args.seconds)
    figures["batch64"]["grpc_stream"] = await streaming(grpc_url, 64 * args.batch_callers, args.seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--callers", type=int, default=32, help="concurrent single-item callers")
    parser.add_argument("--batch-callers", type=int, default=4, help="concurrent 64-item callers")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        service = ServiceProcess(default_pipeline_file(), log_path=Path(tmp) / "service.log").wait()
        try:
            figures = asyncio.run(measure(service, args))
        finally:
            service.stop()
    print(f"{'pattern':<9} {'protocol':<12} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for pattern, by_protocol in figures.items():
        for protocol, row in by_protocol.items():
            print(
                f"{pattern:<9} {protocol:<12} {row['items_per_s']:>9} {row['p50_ms']:>8} {row['p99_ms']:>8}"
            )
        base = by_protocol["http"]["items_per_s"]
        ratios = {p: round(r["items_per_s"] / base, 2) for p, r in by_protocol.items()}
        print(f"{pattern:<9} items/s relative to HTTP: {ratios}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
