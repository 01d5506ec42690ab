"""Dynamic batcher throughput against the ideal of a cost model.

A synthetic backend costs ``a + b*n`` seconds per batch of ``n`` items and
runs on a worker thread, as the local model backend does. ``--callers``
closed-loop callers each submit one item at a time (the OpenRLHF/slime
pattern), which saturates the batcher. Three figures, measured side by side:

* batched: the DynamicBatcher with ``max_batch_items = B``;
* unbatched: the same load and backend with ``max_batch_items = 1``;
* ideal: ``B / (a + b*B)`` items/s, the best any batcher can do with one
  batch in flight.

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from rewardgate.sources.model.batching.batcher import DynamicBatcher, WorkItem


class CostModelBackend:
    """``run_batch`` whose duration is ``a + b*n`` (blocking, on one thread)."""

    def __init__(self, a_s: float, b_s: float) -> None:
        self.a_s, self.b_s = a_s, b_s
        self._thread = ThreadPoolExecutor(1)
        self.batches = 0
        self.items = 0

    async def __call__(self, payloads: list, deadline: float) -> list:
        self.batches += 1
        self.items += len(payloads)
        cost = self.a_s + self.b_s * len(payloads)
        await asyncio.get_running_loop().run_in_executor(self._thread, time.sleep, cost)
        return payloads


async def measure(max_batch_items: int, args: argparse.Namespace) -> dict:
    backend = CostModelBackend(args.a_ms / 1000, args.b_ms / 1000)
    batcher = DynamicBatcher(
        "bench",
        backend,
        max_batch_items=max_batch_items,
        max_batch_tokens=10**9,
        max_wait_ms=args.max_wait_ms,
        max_queue_items=args.callers * 2,
    )
    batcher.start()
    latencies: list[float] = []
    done = 0
    stop_at = warm_until = 0.0

    async def caller(index: int) -> None:
        nonlocal done
        while (now := time.perf_counter()) < stop_at:
            (future,) = batcher.enqueue([WorkItem(payload=index, length=64)], deadline=float("inf"))
            await future
            finished = time.perf_counter()
            if now >= warm_until:
                latencies.append(finished - now)
                done += 1

    start = time.perf_counter()
    warm_until = start + args.warmup_s
    stop_at = warm_until + args.duration_s
    await asyncio.gather(*(caller(i) for i in range(args.callers)))
    elapsed = time.perf_counter() - warm_until
    await batcher.close()
    latencies.sort()
    return {
        "items_per_s": done / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "mean_batch": backend.items / max(backend.batches, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-ms", type=float, default=2.0, help="fixed cost per batch")
    parser.add_argument("--b-ms", type=float, default=0.05, help="cost per item")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--callers", type=int, default=256, help="concurrent single-item callers")
    parser.add_argument("--duration-s", type=float, default=4.0)
    parser.add_argument("--warmup-s", type=float, default=0.5)
    args = parser.parse_args()

    ideal = args.max_batch / ((args.a_ms + args.b_ms * args.max_batch) / 1000)
    batched = asyncio.run(measure(args.max_batch, args))
    unbatched = asyncio.run(measure(1, args))
    figures = {
        "bench": "batching",
        "cost_model": {"a_ms": args.a_ms, "b_ms": args.b_ms, "max_batch": args.max_batch},
        "callers": args.callers,
        "ideal_items_per_s": round(ideal, 1),
        "batched": {k: round(v, 2) for k, v in batched.items()},
        "unbatched": {k: round(v, 2) for k, v in unbatched.items()},
        "batched_vs_ideal": round(batched["items_per_s"] / ideal, 3),
        "batched_vs_unbatched": round(batched["items_per_s"] / unbatched["items_per_s"], 2),
    }
    print(
        f"cost model: {args.a_ms} ms + {args.b_ms} ms/item, max batch {args.max_batch}, "
        f"{args.callers} single-item callers"
    )
    print(f"{'mode':<10} {'items/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'mean batch':>11}")
    for name, row in (("batched", batched), ("unbatched", unbatched)):
        print(
            f"{name:<10} {row['items_per_s']:>10.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['mean_batch']:>11.1f}"
        )
    print(f"{'ideal':<10} {ideal:>10.0f}")
    print(
        f"batched/ideal = {figures['batched_vs_ideal']:.3f}   "
        f"batched/unbatched = {figures['batched_vs_unbatched']:.1f}x"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
