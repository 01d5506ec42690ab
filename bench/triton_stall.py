"""The 64-item p99 tail over Triton: gateway batches with and without Triton's dynamic batcher.

One Triton (CPU, nvidia-pytriton) serves a light random reward model under two
entries of the same weights: one with Triton's dynamic batcher in front, one
without (what ``rewardgate triton-repo`` writes by default). One gateway
(cache off) has a pipeline for each. ``--rounds`` rounds each run
``--clients`` clients of 64-item requests for ``--duration-s`` against both
entries, alternating which goes first. A request slower than ``--stall-ms``
counts as stalled (the stall seen in sessions 2-7 was Triton's batcher thread
sleeping out its 0.5 s idle wait; docs/benchmarks.md).

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._rounds import in_rotated_rounds
from bench.triton_overhead import (
    DIRECT_MODEL,
    GATEWAY_MODEL,
    add_run_arguments,
    gateway_bodies,
    gateway_sender,
    make_texts,
    run_closed_loop,
    start_gateway,
    start_servers,
)
from tests.support.tiny_models import build_reward_model

VARIANTS = {"triton_batcher_on": DIRECT_MODEL, "triton_batcher_off": GATEWAY_MODEL}


async def one_phase(url: str, pipeline: str, texts: list[str], args) -> list[float]:
    """Latencies (s) of ``args.clients`` closed-loop clients of 64-item requests to ``pipeline``."""
    bodies = gateway_bodies(texts, 64, pipeline)
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=args.clients)) as session:
        send = gateway_sender(session, bodies)
        latencies, _ = await run_closed_loop(args.clients, args.duration_s, args.warmup_s, send)
    return latencies


async def all_rounds(url: str, texts: list[str], args) -> dict[str, list[list[float]]]:
    runs = {variant: lambda v=variant: one_phase(url, v, texts, args) for variant in VARIANTS}
    return await in_rotated_rounds(runs, args.rounds)


def summarise(phases: list[list[float]], stall_s: float) -> dict:
    every = sorted(latency for phase in phases for latency in phase)
    return {
        "requests": len(every),
        "p50_ms": round(1000 * statistics.median(every), 1),
        "p99_ms": round(1000 * every[int(0.99 * (len(every) - 1))], 1),
        "max_ms": round(1000 * every[-1], 1),
        "stalled_requests": sum(latency > stall_s for latency in every),
        "rounds_with_a_stall": sum(any(latency > stall_s for latency in phase) for phase in phases),
        "rounds": len(phases),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, hidden_size=64, layers=2, warmup_s=1.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--stall-ms", type=float, default=300.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_dir = build_reward_model(workdir / "model", hidden_size=args.hidden_size, layers=args.layers)
        server = start_servers(model_dir, workdir, args.torch_threads)
        try:
            pipelines = {variant: {"triton_model": model} for variant, model in VARIANTS.items()}
            service = start_gateway(model_dir, server.grpc_url, workdir, pipelines)
            try:
                rounds = asyncio.run(all_rounds(service.url, make_texts(1024), args))
            finally:
                service.stop()
        finally:
            server.cleanup()

    figures = {variant: summarise(phases, args.stall_ms / 1000) for variant, phases in rounds.items()}
    print(
        f"{'Triton model entry':<20} {'requests':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'stalled':>8} {'rounds with a stall':>20}"
    )
    for variant, row in figures.items():
        print(
            f"{variant:<20} {row['requests']:>8} {row['p50_ms']:>7} {row['p99_ms']:>7} {row['max_ms']:>7} "
            f"{row['stalled_requests']:>8} {row['rounds_with_a_stall']:>14}/{row['rounds']}"
        )
    print(
        json.dumps({"bench": "triton_stall", "stall_ms": args.stall_ms, "clients": args.clients, **figures})
    )


if __name__ == "__main__":
    main()
