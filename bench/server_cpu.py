"""Where each server's CPU goes under load: user and system time per request, per thread.

rewardgate (its default pipeline file, as bench/hot_path.py starts it) and the bare
FastAPI route (bench/bare_app.py) each take single-item ``/v1/score`` requests from wrk
(one thread, 32 keep-alive connections) for ``--seconds``; the servers take turns for
``--rounds``. Each thread's user and system time over the run comes from
``/proc/PID/task/*/stat``. When a server's main thread is busy the whole run, its CPU
per request, not its threads or its waiting, sets its req/s; comparing that with
bench/instructions.py's count of the same thread separates work (instructions) from
how fast the machine runs it (time per instruction).

Needs ``wrk`` (Debian package) and Linux's /proc. The last line is JSON.

    python bench/server_cpu.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.hot_path import single_body, start_bare_app, wrk  # noqa: E402
from rewardgate.config.settings import default_pipeline_file  # noqa: E402
from tests.support.server import ServiceProcess  # noqa: E402

#: Clock ticks per second of /proc's times.
TICKS = os.sysconf("SC_CLK_TCK")


def thread_times(pid: int) -> dict[str, tuple[int, int]]:
    """Thread id -> (user, system) clock ticks so far, for every thread of ``pid``."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except FileNotFoundError:  # the thread ended
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        times[tid] = (int(fields[11]), int(fields[12]))
    return times


def measure(pid: int, url: str, seconds: float, workdir: Path) -> dict[str, float]:
    """req/s, and the busiest thread's and all threads' CPU per request (µs), over one wrk run."""
    before = thread_times(pid)
    rps = wrk(url, single_body(False), 32, seconds, workdir)["rps"]
    after = thread_times(pid)
    requests = rps * max(1, round(seconds))
    spent = {
        tid: (user - before.get(tid, (0, 0))[0], system - before.get(tid, (0, 0))[1])
        for tid, (user, system) in after.items()
    }
    main_user, main_system = max(spent.values(), key=sum)
    per_request = 1e6 / TICKS / requests
    return {
        "rps": rps,
        "main_user_us": main_user * per_request,
        "main_system_us": main_system * per_request,
        "main_busy": (main_user + main_system) / TICKS / max(1, round(seconds)),
        "other_threads_us": (sum(map(sum, spent.values())) - main_user - main_system) * per_request,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    service = ServiceProcess(default_pipeline_file()).wait()
    bare, bare_url = start_bare_app()
    sides = {"rewardgate": (service.process.pid, service.url + "/v1/score"), "bare": (bare.pid, bare_url)}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    try:
        with tempfile.TemporaryDirectory() as workdir:
            for _pid, url in sides.values():  # warm-up
                wrk(url, single_body(False), 32, 1, Path(workdir))
            for round_ in range(args.rounds):
                for name, (pid, url) in sides.items():
                    figures = measure(pid, url, args.seconds, Path(workdir))
                    runs[name].append(figures)
                    shown = " ".join(f"{key} {value:.3g}" for key, value in figures.items())
                    print(f"round {round_}: {name:10s} {shown}")
    finally:
        service.stop()
        bare.terminate()
        bare.wait(timeout=30)
    medians = {
        name: {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
        for name, rounds in runs.items()
    }
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
