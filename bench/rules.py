"""Rule throughput per family, and service responsiveness while rules saturate the CPU.

1. Verifications per second for one representative rule per family: inline
   rules evaluated in-process; pool rules through the verifier pool (one
   worker per CPU) in 64-item calls, as the service runs them.
2. The service (shipped default config) answers ``/healthz``: p50/p99 idle vs
   while 8 clients keep 64-item ``math`` requests (cache off) in flight, so
   math-verify saturates every core. Same run, side by side.

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rewardgate.config.settings import default_pipeline_file
from rewardgate.items import ScoringItem
from rewardgate.sources.base import SourceKey
from rewardgate.sources.rule.base import warm_up_rules
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.source import RuleSource
from tests.support.server import ServiceProcess

TOOL_GOLD = json.dumps([{"name": "search", "arguments": {"q": "cats", "n": 3}}])


def families(db_dir: Path) -> dict[str, tuple[str, dict, ScoringItem]]:
    answer = "<think>We add the fractions.</think><answer>\\boxed{\\frac{3}{4}}</answer>"
    sentence = "the quick brown fox jumps over the lazy dog near the river bank"
    return {
        "math (math_verify)": ("math_verify", {}, ScoringItem("", answer, "0.75")),
        "text (normalized_match)": ("normalized_match", {}, ScoringItem("", "The Paris!", "paris")),
        "text (bleu)": ("bleu", {}, ScoringItem("", sentence, sentence.replace("quick", "fast"))),
        "text (rouge)": ("rouge", {}, ScoringItem("", sentence, sentence.replace("lazy", "sleepy"))),
        "format (think_answer)": ("think_answer", {}, ScoringItem("", answer, None)),
        "format (regex)": ("regex", {"pattern": r"\\boxed\{.+\}"}, ScoringItem("", answer, None)),
        "structure (json_schema)": (
            "json_schema",
            {"schema": {"type": "object", "required": ["a"]}},
            ScoringItem("", '{"a": 1, "b": [1, 2, 3]}', None),
        ),
        "tools (tool_call)": (
            "tool_call",
            {},
            ScoringItem(
                "", '<tool_call>{"name": "search", "arguments": {"q": "cats", "n": 3}}</tool_call>', TOOL_GOLD
            ),
        ),
        "sql (sql_execution)": (
            "sql_execution",
            {"database_dir": str(db_dir)},
            ScoringItem(
                "", "SELECT name FROM t WHERE v > 1", "SELECT name FROM t WHERE v >= 2", {"db": "b.db"}
            ),
        ),
        "code (code_tests, sandboxed)": (
            "code_tests",
            {},
            ScoringItem(
                "", "def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\nassert add(0, 0) == 0\n"
            ),
        ),
    }


async def pool_rate(pool: VerifierPool, rule, item: ScoringItem, seconds: float) -> float:
    source = RuleSource(SourceKey("rule", "bench"), rule=rule, pool=pool)
    await source.compute([item] * 64, deadline=time.monotonic() + 60)  # warm
    done, stop = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < stop:
        await source.compute([item] * 64, deadline=time.monotonic() + 60)
        done += 64
    return done / (time.perf_counter() - start)


def inline_rate(rule, item: ScoringItem, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        rule.grade(item)
        done += 1
    return done / (time.perf_counter() - start)


def rates(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        with sqlite3.connect(Path(tmp) / "b.db") as db:
            db.executescript("CREATE TABLE t (name TEXT, v INT); INSERT INTO t VALUES ('a', 1), ('b', 2);")
        built = {
            family: (build_rule(rule_type, params), item)
            for family, (rule_type, params, item) in families(Path(tmp)).items()
        }
        isolated = tuple(rule for rule, _ in built.values() if rule.isolated)
        warm = functools.partial(warm_up_rules, isolated)
        pool = VerifierPool(workers=os.cpu_count() or 1, initializer=warm)
        try:
            results = {}
            for family, (rule, item) in built.items():
                rate = (
                    asyncio.run(pool_rate(pool, rule, item, seconds))
                    if rule.isolated
                    else inline_rate(rule, item, seconds)
                )
                results[family] = round(rate, 1)
        finally:
            pool.close()
    return results


def healthz_latencies(url: str, count: int) -> dict[str, float]:
    samples = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            samples.append(time.perf_counter() - started)
            time.sleep(0.005)
    samples.sort()
    return {
        "p50_ms": round(1000 * statistics.median(samples), 2),
        "p99_ms": round(1000 * samples[int(0.99 * (len(samples) - 1))], 2),
    }


def responsiveness(requests_probe: int) -> dict:
    service = ServiceProcess(default_pipeline_file(), env={"REWARDGATE_CACHE_MAX_ENTRIES": "0"})
    try:
        service.wait()
        idle = healthz_latencies(service.url, requests_probe)
        stop = threading.Event()
        verified = [0]
        items = [
            {"response": f"\\boxed{{\\frac{{{i}}}{{{i + 1}}}}}", "reference": f"{i}/{i + 1}"}
            for i in range(64)
        ]
        body = {"pipeline": "math", "items": items, "options": {"cache": False}}

        def load() -> None:
            with httpx.Client(base_url=service.url, timeout=60) as client:
                while not stop.is_set():
                    client.post("/v1/score", json=body).raise_for_status()
                    verified[0] += 64

        workers = [threading.Thread(target=load) for _ in range(8)]
        for worker in workers:
            worker.start()
        time.sleep(2)
        started, before = time.perf_counter(), verified[0]
        loaded = healthz_latencies(service.url, requests_probe)
        load_rate = (verified[0] - before) / (time.perf_counter() - started)
        stop.set()
        for worker in workers:
            worker.join()
    finally:
        service.stop()
    return {"idle": idle, "under_load": loaded, "math_items_per_s_during_probe": round(load_rate, 1)}


def main() -> None:
    per_family = rates(seconds=2.0)
    health = responsiveness(requests_probe=400)
    ratio = round(health["under_load"]["p99_ms"] / health["idle"]["p99_ms"], 2)
    print(f"{'family (rule)':<28} {'verifications/s':>16}")
    for family, rate in per_family.items():
        print(f"{family:<28} {rate:>16,.0f}")
    print(
        f"/healthz idle p50/p99 = {health['idle']['p50_ms']}/{health['idle']['p99_ms']} ms; "
        f"under math load p50/p99 = {health['under_load']['p50_ms']}/{health['under_load']['p99_ms']} ms "
        f"({health['math_items_per_s_during_probe']} math items/s); p99 ratio {ratio}"
    )
    print(
        json.dumps(
            {
                "bench": "rules",
                "cpus": os.cpu_count(),
                "verifications_per_s": per_family,
                "healthz": health,
                "healthz_p99_loaded_vs_idle": ratio,
            }
        )
    )


if __name__ == "__main__":
    main()
