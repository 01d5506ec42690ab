"""HTTP vs gRPC vs gRPC streaming, through rewardgate_client, in one run.

One service process (the shipped default config, pipeline ``exact``: an
inline rule, so the figures are protocol and service overhead rather than
model time; ``cache: false`` so every item is computed). For each protocol:

* ``single``: ``--callers`` concurrent callers, each sending one-item requests
  back to back (the OpenRLHF/slime pattern); for streaming, one ScoreStream
  with the same number of items in flight;
* ``batch64``: ``--batch-callers`` callers sending 64-item requests; for
  streaming, as many streams, each sending 64-item bursts (the next once the
  last is answered; until session 8, one stream with a sliding window of
  64 x batch-callers items, whose load generator did per item what the
  unary one does per request).

Reports items/s and per-request (per-item for streams) p50/p99 latency.
``--rounds N`` measures each pattern's protocols N times, their order rotated
each round, and reports medians and the per-round stream/unary ratios.
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

from bench._rounds import in_rotated_rounds
from rewardgate.config.settings import default_pipeline_file
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


async def stream_bursts(url: str, callers: int, size: int, seconds: float) -> dict[str, float]:
    """``callers`` ScoreStreams, each sending ``size`` items at once and the next burst when
    every answer of the last is in: the unary 64-item caller's pattern, on a stream. The
    latency is per burst (send to last answer), as unary's is per request."""
    latencies: list[float] = []
    sent = 0
    async with AsyncRewardClient(url) as client:
        stop = time.perf_counter() + seconds

        async def caller(offset: int) -> None:
            nonlocal sent
            answered, started = 0, 0.0
            burst_answered = asyncio.Event()

            async def bursts():
                nonlocal started
                counter = 0
                while time.perf_counter() < stop:
                    burst_answered.clear()
                    started = time.perf_counter()
                    for item in make_items(offset * 10_000_000 + counter, size):
                        yield item  # no await in between: the burst travels as one message
                    counter += size
                    await burst_answered.wait()

            async for answer in client.stream(bursts(), "exact", cache=False):
                assert answer.status == "ok"
                answered += 1
                if answered % size == 0:
                    latencies.append(time.perf_counter() - started)
                    sent += size
                    burst_answered.set()

        began = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(callers)))
        elapsed = time.perf_counter() - began
    return summary(latencies, sent, elapsed)


def runs(service: ServiceProcess, args: argparse.Namespace) -> dict[str, dict]:
    """pattern -> protocol -> ``measure()`` coroutine factory."""
    http, grpc_url = service.url, f"grpc://{service.grpc_target}"
    seconds, callers, batch_callers = args.seconds, args.callers, args.batch_callers
    return {
        "single": {
            "http": lambda: unary(http, callers, 1, seconds),
            "grpc": lambda: unary(grpc_url, callers, 1, seconds),
            "grpc_stream": lambda: streaming(grpc_url, callers, seconds),
        },
        "batch64": {
            "http": lambda: unary(http, batch_callers, 64, seconds),
            "grpc": lambda: unary(grpc_url, batch_callers, 64, seconds),
            "grpc_stream": lambda: stream_bursts(grpc_url, batch_callers, 64, seconds),
        },
    }


async def measure(service: ServiceProcess, args: argparse.Namespace) -> dict[str, dict[str, list[dict]]]:
    """Every protocol of every pattern ``args.rounds`` times, the order rotated each round."""
    return {
        pattern: await in_rotated_rounds(by_protocol, args.rounds)
        for pattern, by_protocol in runs(service, args).items()
    }


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(row[key] for row in rows), 2) for key in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--callers", type=int, default=32, help="concurrent single-item callers")
    parser.add_argument("--batch-callers", type=int, default=4, help="concurrent 64-item callers")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each measurement")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each pattern, order rotated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        service = ServiceProcess(default_pipeline_file(), log_path=Path(tmp) / "service.log").wait()
        try:
            rounds = asyncio.run(measure(service, args))
        finally:
            service.stop()
    figures = {pattern: {p: medians(rows) for p, rows in by.items()} for pattern, by in rounds.items()}
    print(
        f"{'pattern':<9} {'protocol':<12} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}  (medians over rounds)"
    )
    for pattern, by_protocol in figures.items():
        for protocol, row in by_protocol.items():
            print(
                f"{pattern:<9} {protocol:<12} {row['items_per_s']:>9} {row['p50_ms']:>8} {row['p99_ms']:>8}"
            )
        base = by_protocol["http"]["items_per_s"]
        ratios = {p: round(r["items_per_s"] / base, 2) for p, r in by_protocol.items()}
        print(f"{pattern:<9} items/s relative to HTTP: {ratios}")
        each = [
            stream["items_per_s"] / unary_["items_per_s"]
            for stream, unary_ in zip(rounds[pattern]["grpc_stream"], rounds[pattern]["grpc"], strict=True)
        ]
        figures[pattern]["stream_over_unary"] = {
            "median": round(statistics.median(each), 3),
            "rounds": [round(ratio, 3) for ratio in each],
        }
        print(
            f"{pattern:<9} gRPC stream / unary, per round: {figures[pattern]['stream_over_unary']['rounds']}"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
