"""Instructions per request, counted by valgrind's callgrind: figures machine load cannot move.

Timings on a shared 2-core machine move by 20-40 % between runs (docs/benchmarks.md);
instruction counts do not: the same code on the same inputs executes the same
instructions whatever else the machine runs. This script counts, for one request
of bench/hot_path.py's single-item ``exact`` call (cache off):

* ``--layers``: each in-process layer of bench/asgi_layers.py (``scorer``: the core's
  ``RewardCore.score``; ``handler``; ``app``: the whole rewardgate ASGI app; ``bare``:
  bench/bare_app.py's FastAPI route). ``app - scorer`` is what the HTTP edge costs,
  ``bare`` what FastAPI's whole route costs. ``cached64`` (the whole app) and
  ``cached64_core`` (``RewardCore.score``) count bench/hot_path.py's cached 64-item request
  instead, every score in the in-memory cache (the warm-up fills it);
* ``--client``: one ``RewardClient.score([item])`` call against a running service (the
  client's own process), beside ``floor``: the least a Python caller can do for the same
  exchange (one prebuilt request written to a keep-alive socket, the reply read and
  parsed by httptools and orjson: bench/raw_caller.py);
* ``--servers``: whole server processes per request, the HTTP server's own work (uvicorn,
  the access log) included: ``rewardgate serve`` on its defaults against bench/bare_app.py,
  each driven over one keep-alive connection by bench/raw_caller.py's exchange. The ratio
  of the two is what bench/hot_path.py's req/s ratio reflects (server_instructions()).

Each figure is the main thread's instruction count over 600 requests minus that over
200 (start-up, warm-up and the measuring harness cancel out), divided by 400
(``--requests 50,150`` for fewer: a cached 64-item request costs about 13 single ones).
Background threads are left out: under valgrind a thread that wakes on a timer runs
50x more often per request than it does natively. Needs ``valgrind`` (Debian package);
takes about a minute per figure. With ``--baseline REV`` the layers are also counted
on that revision's tree (exported with ``git archive``). The last line is JSON.

    python bench/instructions.py [--layers scorer,app,bare] [--client] [--baseline REV] [--requests 200,600]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNTS = (200, 600)
#: Seconds of no requests over which a server's idle (timer) rate is counted.
IDLE_S = 10.0

#: Runs under callgrind with instrumentation off until the measured requests start.
LAYER_PROGRAM = """
import asyncio, os, subprocess, sys
sys.path.insert(0, "bench")
import asgi_layers, bare_app, uvloop
from rewardgate.api.http.app import create_app
from rewardgate.config.settings import Settings, default_pipeline_file

def control(*args):
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)

async def main(layer, n):
    app = create_app(Settings(config_path=default_pipeline_file(), grpc_port=0))
    await asgi_layers.start_lifespan(app)
    await asgi_layers.start_lifespan(bare_app.app)
    # The default pipelines' model loads in the background and then runs a full collection on
    # this thread (freeze_startup_heap): done before counting, it cannot land in a measured window.
    await app.state.context.core.wait_loaded()
    call = asgi_layers.layers(app, bare_app.app)[layer]
    for _ in range(300):
        await call(); await asyncio.sleep(0)
    control("-i", "on")
    for _ in range(n):
        await call(); await asyncio.sleep(0)
    control("-d", "measured")
    os._exit(0)

uvloop.run(main(sys.argv[1], int(sys.argv[2])))
"""

#: The end of a caller program: warm up, count ``n`` calls of ``call`` under callgrind, leave.
MEASURED_CALLS = """
for _ in range(100):
    call()
control("-i", "on")
for _ in range(n):
    call()
control("-d", "measured")
os._exit(0)
"""

CLIENT_PROGRAM = """
import os, subprocess, sys
sys.path.insert(0, "bench")
from raw_caller import ITEM, raw_call

def control(*args):
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)

url, side, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if side == "client":
    from rewardgate_client import RewardClient
    client = RewardClient(url)
    def call():
        client.score([ITEM], "exact", cache=False)
else:
    call = raw_call(url)
"""
CLIENT_PROGRAM += MEASURED_CALLS


def main_thread_instructions(program: str, args: list[str], cwd: Path, env: dict[str, str]) -> int:
    """The main thread's instruction count between the program's "on" and its dump."""
    with tempfile.TemporaryDirectory(prefix="rg-callgrind-") as out:
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                "--separate-threads=yes",
                f"--callgrind-out-file={out}/cg.out",
                sys.executable,
                "-c",
                program,
                *args,
            ],
            cwd=cwd,
            env={**env, "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        dump = Path(out, "cg.out.1-01")
        if not dump.exists():
            raise RuntimeError(f"callgrind wrote no dump for {args}: is valgrind installed?")
        for line in dump.read_text().splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in the callgrind dump for {args}")


def per_request(
    program: str, args: list[str], cwd: Path, env: dict[str, str], counts: tuple[int, int] = COUNTS
) -> int:
    low, high = (main_thread_instructions(program, [*args, str(n)], cwd, env) for n in counts)
    return round((high - low) / (counts[1] - counts[0]))


def count_layers(tree: Path, layers: list[str], counts: tuple[int, int] = COUNTS) -> dict[str, int]:
    from _processes import tree_env

    return {layer: per_request(LAYER_PROGRAM, [layer], tree, tree_env(tree), counts) for layer in layers}


def count_client(tree: Path) -> dict[str, int]:
    from _processes import start_tree_service, tree_env

    process, url, _grpc = start_tree_service(tree)
    try:
        figures = {}
        for side in ("client", "floor"):
            figures[side] = per_request(CLIENT_PROGRAM, [url, side], tree, tree_env(tree))
        return figures
    finally:
        process.terminate()
        process.wait(timeout=30)


def server_instructions(command: list[str], port: int, cwd: Path, env: dict[str, str]) -> dict[str, int]:
    """Instructions per single-item request of the server ``command`` (listening on ``port``),
    its main thread only: the server started under callgrind, driven from this process by
    bench/raw_caller.py's exchange (warm-up, then 200 and 600 counted calls, dumped apart).

    A server's event loop also runs timers (uvicorn's tick, health reports, the pool's
    supervisor) that fire per second, not per request, and under callgrind a request takes
    about 50x longer than natively, so those timers weigh 50x more per request than they do
    in service. The loop's idle rate is counted too (one dump over ``IDLE_S`` seconds with no
    request) and its share of the requests' wall time taken out: ``per_request`` is what the
    requests themselves cost, ``idle_per_s`` the timers' rate under callgrind."""
    with tempfile.TemporaryDirectory(prefix="rg-callgrind-") as out:
        process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                "--separate-threads=yes",
                f"--callgrind-out-file={out}/cg.out",
                *command,
            ],
            cwd=cwd,
            env={**env, "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            call = _connect_when_ready(f"http://127.0.0.1:{port}", process)
            for _ in range(300):
                call()

            def dump() -> int:
                subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
                return _dump_total(Path(out), len(totals) + 1)

            subprocess.run(
                ["callgrind_control", "-i", "on", str(process.pid)], check=True, capture_output=True
            )
            totals: list[int] = []
            seconds: list[float] = []
            for n in (*COUNTS, 0):
                started = time.monotonic()
                if n:
                    for _ in range(n):
                        call()
                else:
                    time.sleep(IDLE_S)  # last: the idle connection hits its keep-alive timeout
                totals.append(dump())
                seconds.append(time.monotonic() - started)
        finally:
            process.terminate()
            process.wait(timeout=60)
    idle_per_s = totals[2] / seconds[2]
    requests = COUNTS[1] - COUNTS[0]
    background = idle_per_s * (seconds[1] - seconds[0])
    return {
        "per_request": round((totals[1] - totals[0] - background) / requests),
        "with_timers": round((totals[1] - totals[0]) / requests),
        "idle_per_s": round(idle_per_s),
    }


def _connect_when_ready(url: str, process: subprocess.Popen, timeout_s: float = 900):
    """bench/raw_caller.py's exchange with ``url`` once the server answers it with a reward."""
    from raw_caller import raw_call

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server under callgrind exited with {process.returncode}")
        try:
            call = raw_call(url)
            call()
            return call
        except (OSError, KeyError, ValueError):
            time.sleep(1)
    raise RuntimeError(f"the server under callgrind did not answer within {timeout_s} s")


def _dump_total(out: Path, number: int) -> int:
    """The main thread's total of callgrind dump ``number`` (``cg.out.N-01``)."""
    dump = out / f"cg.out.{number}-01"
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def count_servers(tree: Path) -> dict[str, dict[str, int]]:
    """Whole servers, per request: rewardgate (``rewardgate serve``, shipped pipelines, access
    log on: its defaults) and bench/bare_app.py (uvicorn, access log on); the figures the
    req/s ratio of bench/hot_path.py reflects, the HTTP server's own work included."""
    from _processes import tree_env

    from tests.support.server import free_ports

    env = tree_env(tree)
    figures = {}
    port, grpc_port = free_ports(2)
    figures["server"] = server_instructions(
        [sys.executable, "-m", "rewardgate", "serve", "--port", str(port)],
        port,
        tree,
        {**env, "REWARDGATE_GRPC_PORT": str(grpc_port), "REWARDGATE_VERIFIER_WORKERS": "2"},
    )
    (port,) = free_ports(1)
    figures["bare_server"] = server_instructions(
        [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)], port, tree, env
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", default="scorer,app,bare", help="comma-separated asgi_layers layers")
    parser.add_argument("--client", action="store_true", help="also the client against its floor")
    parser.add_argument("--baseline", help="also count the layers on this revision's tree")
    parser.add_argument("--servers", action="store_true", help="also whole servers: rewardgate vs bare")
    parser.add_argument(
        "--requests", default="200,600", help="the two request counts whose difference is measured"
    )
    args = parser.parse_args()
    low, high = (int(n) for n in args.requests.split(","))
    if not 0 < low < high:
        sys.exit("--requests needs two counts, the first smaller: LOW,HIGH")
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind (apt-get install valgrind)")
    sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]
    layers = [layer for layer in args.layers.split(",") if layer]
    summary: dict[str, object] = {"layers": count_layers(ROOT, layers, (low, high))}
    if args.baseline:
        from _processes import export

        tree = export(args.baseline, Path(tempfile.mkdtemp(prefix="rg-baseline-")))
        summary["baseline"] = {"revision": args.baseline, "layers": count_layers(tree, layers, (low, high))}
    if args.client:
        summary["client"] = count_client(ROOT)
    if args.servers:
        summary["servers"] = count_servers(ROOT)
        if args.baseline:
            summary["baseline"]["servers"] = count_servers(tree)
    report(summary)


def report(summary: dict) -> None:
    """Print the figures in ``summary`` (adding the derived ratios to it), then it as JSON."""
    current = summary["layers"]
    for name, value in current.items():
        print(f"{name:>8}: {value:>9,} instructions/request")
    if {"app", "bare"} <= current.keys():
        summary["app_over_bare"] = round(current["app"] / current["bare"], 3)
    if {"app", "scorer"} <= current.keys():
        summary["edge"] = current["app"] - current["scorer"]
    if "client" in summary:
        client = summary["client"]
        print(f"  client: {client['client']:>9,} instructions/call (floor {client['floor']:,})")
    if "servers" in summary:
        servers = summary["servers"]
        ours, bare = servers["server"]["per_request"], servers["bare_server"]["per_request"]
        print(f"  server: {ours:>9,} instructions/request (bare {bare:,}; idle timers taken out)")
        summary["server_over_bare"] = round(ours / bare, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
