"""rewardgate's HTTP hot path against a bare FastAPI route, side by side in one run.

Three figures, each from wrk (keep-alive, one thread) against servers started
here, in alternating rounds so machine noise hits both sides alike:

* ``single``: single-item ``/v1/score`` on the inline ``exact`` rule with the
  cache off, ``--connections`` connections: rewardgate's req/s and the bare
  route's (bench/bare_app.py: the same request shape validated by equivalent
  pydantic models, no middleware), and their ratio;
* ``single_c1``: the same at one connection: p50 latency of each;
* ``cached64``: one 64-item request whose scores are all cached (in memory,
  and in Redis with ``--redis``), one connection: rewardgate's p50.

Needs ``wrk`` (Debian package). The last line is JSON.

    python bench/hot_path.py [--seconds 5] [--rounds 3] [--redis redis://127.0.0.1:6379/0]
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
from bench._processes import start_answering  # noqa: E402
from service.settings import default_pipeline_file  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--redis", help="also measure the cached request with this Redis cache")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp())
    service = ServiceProcess(default_pipeline_file()).wait()
    bare, bare_url = start_bare_app()
    redis_service = (
        ServiceProcess(default_pipeline_file(), env={"REWARDGATE_REDIS_URL": args.redis}).wait()
        if args.redis
        else None
    )
    ours_url = service.url + "/v1/score"
    figures: dict[str, dict[str, list[float]]] = {}

    def record(name: str, side: str, value: float) -> None:
        figures.setdefault(name, {}).setdefault(side, []).append(value)

    try:
        for target in (ours_url, bare_url):  # warm both (imports, first connections)
            wrk(target, single_body(False), args.connections, 1, workdir)
        for round_number in range(args.rounds):
            for side, url in (("rewardgate", ours_url), ("bare", bare_url)):
                many = wrk(url, single_body(False), args.connections, args.seconds, workdir)
                one = wrk(url, single_body(False), 1, args.seconds, workdir)
                record("single_rps", side, many["rps"])
                record("single_c1_p50_us", side, one["p50_s"] * 1e6)
                print(
                    f"round {round_number}: {side:10s} {many['rps']:8.0f} req/s (c={args.connections}), "
                    f"p50 {one['p50_s'] * 1e6:6.0f} us (c=1)",
                    flush=True,
                )
            for side, server in (("memory", service), ("redis", redis_service)):
                if server is None:
                    continue
                body = batch_body(64)
                httpx.post(
                    server.url + "/v1/score", json=body, timeout=10
                ).raise_for_status()  # fill the cache
                cached = wrk(server.url + "/v1/score", body, 1, args.seconds, workdir)
                record("cached64_p50_us", side, cached["p50_s"] * 1e6)
                print(
                    f"round {round_number}: cached 64 items ({side}) p50 {cached['p50_s'] * 1e6:6.0f} us",
                    flush=True,
                )
    finally:
        bare.terminate()
        service.stop()
        if redis_service is not None:
            redis_service.stop()
    summary = {
        name: {side: round(statistics.median(v), 1) for side, v in sides.items()}
        for name, sides in figures.items()
    }
    summary["single_rps_ratio"] = round(
        summary["single_rps"]["rewardgate"] / summary["single_rps"]["bare"], 3
    )
    summary["single_c1_p50_ratio"] = round(
        summary["single_c1_p50_us"]["rewardgate"] / summary["single_c1_p50_us"]["bare"], 3
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
