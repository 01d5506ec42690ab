"""Run a load test scenario for a bounded time and write the report into a folder.

    .venv/bin/python loadtests/run.py --scenario GrpoGroupUser --duration 60s --out loadtests/reports/run1
    .venv/bin/python loadtests/run.py --host http://rewardgate:8000 --users 64       # a deployed release
    make loadtest SCENARIO=OverloadUser DURATION=30s

Without ``--host`` it starts the service on its embedded default (shipped
pipelines, no Redis, no Triton) on free ports and stops it afterwards. Exit
status: Locust's, non-zero when a gate is missed (see loadtests/locustfile.py).
Reports: ``OUT/report_stats.csv`` (and the other Locust CSVs), ``OUT/report.html``,
``OUT/report_server_timings.csv``; the folder is printed at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rewardgate.config.settings import default_pipeline_file  # noqa: E402
from tests.support.server import ServiceProcess  # noqa: E402

DEFAULT_SCENARIOS = [
    "OpenRLHFUser",
    "GrpoGroupUser",
    "GrpcUnaryUser",
    "GrpcStreamUser",
    "RescoreUser",
    "MixedPipelineUser",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="a running service (http://HOST:PORT); default: start one here")
    parser.add_argument(
        "--grpc-host", default="", help="its gRPC host:port (default: the --host's host, port 50051)"
    )
    parser.add_argument("--scenario", nargs="*", default=DEFAULT_SCENARIOS, help="User classes to run")
    parser.add_argument("--duration", default="60s", help="Locust --run-time, e.g. 30s, 5m")
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--spawn-rate", type=float, default=8)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "loadtests" / "reports" / time.strftime("%Y%m%d-%H%M%S")
    )
    parser.add_argument(
        "locust_args", nargs=argparse.REMAINDER, help="after --: passed to locust (e.g. gates)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    service = None
    if args.host is None:
        service = ServiceProcess(default_pipeline_file(), log_path=args.out / "service.log").wait()
        args.host, args.grpc_host = service.url, service.grpc_target
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtests" / "locustfile.py"),
        "--headless",
        "--host",
        args.host,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.duration,
        "--stop-timeout",
        "10",
        "--csv",
        str(args.out / "report"),
        "--html",
        str(args.out / "report.html"),
        "--only-summary",
    ]
    if args.grpc_host:
        command += ["--grpc-host", args.grpc_host]
    command += [arg for arg in args.locust_args if arg != "--"] + list(args.scenario)
    try:
        status = subprocess.run(command, cwd=ROOT, check=False).returncode
    finally:
        if service is not None:
            service.stop()
    print(f"report: {args.out / 'report.html'} (CSVs: {args.out}/report_*.csv)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
