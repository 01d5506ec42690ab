"""How late an overloaded service's 429s come: this tree against a baseline revision, one run.

The load of loadtests' ``OverloadUser``: ``--users`` callers each sending
256-item ``math`` requests (deadline 5 s) back to back, a 429 followed by a
pause of its ``Retry-After`` (at most 2 s). Both services (the shipped
default pipelines, two verifier workers) run throughout; each round floods
one side then the other for ``--seconds``, the order rotating, so machine
noise hits both alike. Reports per side: replies by status, and the 429s'
latency (p50, p99, max: the load test's gate is p99 <= 1 s) with the message
of the slowest. The last line is JSON.

    python bench/overload_shedding.py --baseline REV [--rounds 3] [--seconds 15] [--users 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _processes import export, start_tree_service  # noqa: E402

_counter = itertools.count(random.randrange(10**9))


def math_item() -> dict:
    """loadtests' math item: half right, half wrong."""
    n = next(_counter)
    return {
        "id": str(n),
        "prompt": f"What is {n} + 0?",
        "response": f"\\boxed{{{n if n % 2 == 0 else n + 1}}}",
        "reference": str(n),
    }


async def caller(client: httpx.AsyncClient, stop: float, seen: list) -> None:
    while time.monotonic() < stop:
        body = {
            "pipeline": "math",
            "items": [math_item() for _ in range(256)],
            "options": {"deadline_ms": 5000},
        }
        started = time.monotonic()
        response = await client.post("/v1/score", json=body)
        elapsed = time.monotonic() - started
        message = response.json().get("error", {}).get("message", "") if response.status_code != 200 else ""
        seen.append((response.status_code, elapsed, message))
        if response.status_code == 429:
            await asyncio.sleep(min(float(response.headers["retry-after"]), 2.0))


async def flood(url: str, seconds: float, users: int) -> list:
    seen: list = []
    limits = httpx.Limits(max_connections=users)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        stop = time.monotonic() + seconds
        await asyncio.gather(*(caller(client, stop, seen) for _ in range(users)))
    return seen


def summary(seen: list) -> dict:
    statuses: dict[str, int] = {}
    for status, _, _ in seen:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    refused = sorted((elapsed, message) for status, elapsed, message in seen if status == 429)
    times = [elapsed for elapsed, _ in refused]
    figures = {"statuses": statuses}
    if times:
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        figures |= {
            "p50_429_ms": round(1000 * statistics.median(times)),
            "p99_429_ms": round(1000 * p99),
            "max_429_ms": round(1000 * times[-1]),
            "slowest_429": refused[-1][1][:160],
        }
    return figures


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--users", type=int, default=16)
    args = parser.parse_args()
    baseline_tree = export(args.baseline, Path(tempfile.mkdtemp(prefix="rg-baseline-")))
    services = {"current": start_tree_service(ROOT), "baseline": start_tree_service(baseline_tree)}
    seen: dict[str, list] = {side: [] for side in services}
    loads = []
    try:
        for round_index in range(args.rounds):
            order = list(services) if round_index % 2 == 0 else list(reversed(services))
            for side in order:
                loads.append(load_average())
                seen[side] += asyncio.run(flood(services[side][1], args.seconds, args.users))
    finally:
        for process, _, _ in services.values():
            process.terminate()
            process.wait(30)
    result = {side: summary(replies) for side, replies in seen.items()}
    for side, figures in result.items():
        print(side, figures)
    if all("p99_429_ms" in figures for figures in result.values()):
        result["p99_429_current_over_baseline"] = round(
            result["current"]["p99_429_ms"] / result["baseline"]["p99_429_ms"], 3
        )
    result |= {"baseline_revision": args.baseline, "load_averages": loads}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
