"""rewardgate's HTTP hot path against a bare FastAPI route, side by side in one run.

Three figures, each from wrk (keep-alive, one thread) against servers started
here, in alternating rounds whose order rotates, so machine noise and the
position within a round hit every side alike:

* ``single``: single-item ``/v1/score`` on the inline ``exact`` rule with the
  cache off, ``--connections`` connections: rewardgate's req/s and the bare
  route's (bench/bare_app.py: the same request shape validated by equivalent
  pydantic models, no middleware), and their ratio;
* ``single_c1``: the same at one connection: p50 latency of each;
* ``cached64``: one 64-item request whose scores are all cached (in memory,
  and in Redis with ``--redis``), one connection: rewardgate's p50.

With ``--baseline REV`` that revision's service (exported with ``git
archive``) is measured in the same rounds as a third side, so a change's
effect is a ratio taken in one run (with ``--redis`` as well, its cached
64-item request with that Redis too: ``baseline_redis``). With ``--quiet-side`` rewardgate with
its access log off (``REWARDGATE_ACCESS_LOG=false``) is another side, and
``quiet_over_rewardgate`` what turning the log off gives.

Needs ``wrk`` (Debian package). The last line is JSON.

    python bench/hot_path.py [--seconds 5] [--rounds 3] [--redis redis://127.0.0.1:6379/0] [--baseline REV]
                             [--quiet-side]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._processes import export, start_answering, start_tree_service  # noqa: E402
from bench._rounds import rotated  # noqa: E402
from rewardgate.config.settings import default_pipeline_file  # noqa: E402
from tests.support.server import ServiceProcess, free_port  # noqa: E402

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def single_body(cache: bool) -> dict:
    item = {"response": "answer 7", "reference": "answer 7"}
    return {"pipeline": "exact", "items": [item], "options": {"cache": cache}}


def batch_body(size: int) -> dict:
    items = [{"id": str(i), "response": f"answer {i}", "reference": "answer 7"} for i in range(size)]
    return {"pipeline": "exact", "items": items, "options": {"cache": True}}


def wrk(url: str, body: dict, connections: int, seconds: float, workdir: Path) -> dict[str, float]:
    """req/s and p50/p99 (seconds) of POSTing ``body`` to ``url`` for ``seconds``."""
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{json.dumps(body)}]==]\n"
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx replies from {url}:\n{out}")
    percentiles = {
        int(p): float(v) * _UNITS[u] for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)$", out, re.M)
    }
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_s": percentiles[50],
        "p99_s": percentiles[99],
    }


def start_bare_app() -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/score"
    process = start_answering(
        [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)],
        lambda: httpx.post(url, json=single_body(False), timeout=2).status_code == 200,
        timeout_s=60,
    )
    return process, url


def start_baseline(tree: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """An exported revision's own service on its own default pipeline file, and its /v1/score URL."""
    process, url, _ = start_tree_service(tree, env)
    return process, url + "/v1/score"


def run_rounds(sides, cached_servers, args, workdir: Path) -> dict[str, dict[str, list[float]]]:
    """Every figure per side, ``args.rounds`` times, the sides alternating within each round.

    ``sides``: (name, /v1/score URL) for the single-item figures; ``cached_servers``:
    (name, base URL) for the cached 64-item request.
    """
    figures: dict[str, dict[str, list[float]]] = {}

    def record(name: str, side: str, value: float) -> None:
        figures.setdefault(name, {}).setdefault(side, []).append(value)

    for _, target in sides:  # warm each (imports, first connections)
        wrk(target, single_body(False), args.connections, 1, workdir)
    for round_number in range(args.rounds):
        # Whichever side is measured second in a round ran ~7% faster than first here (two
        # servers swapped between runs), so no side keeps a place.
        for side, url in rotated(sides, round_number):
            many = wrk(url, single_body(False), args.connections, args.seconds, workdir)
            one = wrk(url, single_body(False), 1, args.seconds, workdir)
            record("single_rps", side, many["rps"])
            record("single_c1_p50_us", side, one["p50_s"] * 1e6)
            print(
                f"round {round_number}: {side:10s} {many['rps']:8.0f} req/s (c={args.connections}), "
                f"p50 {one['p50_s'] * 1e6:6.0f} us (c=1)",
                flush=True,
            )
        for side, base_url in cached_servers:
            body = batch_body(64)
            httpx.post(base_url + "/v1/score", json=body, timeout=10).raise_for_status()  # fill the cache
            cached = wrk(base_url + "/v1/score", body, 1, args.seconds, workdir)
            record("cached64_p50_us", side, cached["p50_s"] * 1e6)
            print(
                f"round {round_number}: cached 64 items ({side}) p50 {cached['p50_s'] * 1e6:6.0f} us",
                flush=True,
            )
    return figures


def summarise(figures: dict[str, dict[str, list[float]]]) -> dict:
    """Medians per figure and side, and each side's ratio to the bare route (median and range
    of the per-round ratios)."""
    summary: dict = {
        name: {side: round(statistics.median(v), 1) for side, v in sides.items()}
        for name, sides in figures.items()
    }
    # Each round's ratio to the bare route measured next to it, then their median: the
    # machine's speed drifts between rounds more than between neighbouring measurements.
    for figure in ("single_rps", "single_c1_p50_us"):
        per_side = figures[figure]
        for side, values in per_side.items():
            if side == "bare":
                continue
            prefix = "" if side == "rewardgate" else f"{side}_"
            ratios = [v / b for v, b in zip(values, per_side["bare"], strict=True)]
            name = "single_rps_ratio" if figure == "single_rps" else "single_c1_p50_ratio"
            summary[f"{prefix}{name}"] = round(statistics.median(ratios), 3)
            summary[f"{prefix}{name}_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    if "quiet" in figures["single_rps"]:
        per_round = zip(figures["single_rps"]["quiet"], figures["single_rps"]["rewardgate"], strict=True)
        summary["quiet_over_rewardgate"] = round(statistics.median(q / r for q, r in per_round), 3)
    return summary


def start_servers(args, stops: list) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every side's server, ready; appends how to stop each to ``stops``. Returns the sides of
    the single-item figures and those of the cached 64-item request (see run_rounds)."""
    service = ServiceProcess(default_pipeline_file()).wait()
    stops.append(service.stop)
    bare, bare_url = start_bare_app()
    stops.append(bare.terminate)
    sides = [("rewardgate", service.url + "/v1/score"), ("bare", bare_url)]
    cached_servers = [("memory", service.url)]
    if args.redis:
        redis_env = {"REWARDGATE_REDIS_URL": args.redis}
        redis_service = ServiceProcess(default_pipeline_file(), env=redis_env).wait()
        stops.append(redis_service.stop)
        cached_servers.append(("redis", redis_service.url))
    if args.baseline:
        tree = export(args.baseline, Path(tempfile.mkdtemp(prefix="rg-baseline-")))
        baseline, baseline_url = start_baseline(tree)
        stops.append(baseline.terminate)
        sides.insert(1, ("baseline", baseline_url))
        cached_servers.append(("baseline_memory", baseline_url.removesuffix("/v1/score")))
        if args.redis:
            baseline_redis, baseline_redis_url = start_baseline(tree, {"REWARDGATE_REDIS_URL": args.redis})
            stops.append(baseline_redis.terminate)
            cached_servers.append(("baseline_redis", baseline_redis_url.removesuffix("/v1/score")))
    if args.quiet_side:
        quiet = ServiceProcess(default_pipeline_file(), env={"REWARDGATE_ACCESS_LOG": "false"}).wait()
        stops.append(quiet.stop)
        sides.insert(1, ("quiet", quiet.url + "/v1/score"))
    return sides, cached_servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--redis", help="also measure the cached request with this Redis cache")
    parser.add_argument("--baseline", help="also measure this revision's service, side by side")
    parser.add_argument("--quiet-side", action="store_true", help="also rewardgate with its access log off")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp())
    stops: list = []  # how to stop each server started, called whatever happens
    try:
        sides, cached_servers = start_servers(args, stops)
        figures = run_rounds(sides, cached_servers, args, workdir)
    finally:
        for stop in stops:
            stop()
    summary = summarise(figures)
    if args.baseline:
        summary["baseline_revision"] = args.baseline
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
