"""The sync client's single-item call against two floors, in instructions (callgrind).

Counts, as bench/instructions.py ``--client`` does (a running service, the main thread's
instructions over 600 calls minus 200, over 400), per ``RewardClient.score([item])``:

* ``client``: the sync client's call;
* ``floor``: bench/raw_caller.py's ``raw_call`` (a new httptools parser per call), the
  floor bench/client_vs_wrk.py times;
* ``floor_kept``: ``raw_call_kept``, the same exchange keeping its parser and a read buffer:
  the least a Python caller with httptools and orjson does per call.

    python bench/client_pieces.py   # the last line is JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from _processes import start_tree_service, tree_env  # noqa: E402
from instructions import per_request  # noqa: E402

PROGRAM = """
import os, subprocess, sys
sys.path.insert(0, "bench")
from raw_caller import ITEM, raw_call, raw_call_kept

def control(*args):
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)

url, side, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if side == "client":
    from rewardgate_client import RewardClient
    client = RewardClient(url)
    def call():
        client.score([ITEM], "exact", cache=False)
else:
    call = (raw_call if side == "floor" else raw_call_kept)(url)
for _ in range(100):
    call()
control("-i", "on")
for _ in range(n):
    call()
control("-d", "measured")
os._exit(0)
"""


def main() -> None:
    process, url, _grpc = start_tree_service(ROOT)
    try:
        figures = {
            side: per_request(PROGRAM, [url, side], ROOT, tree_env(ROOT))
            for side in ("client", "floor", "floor_kept")
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
    for side, count in figures.items():
        print(f"  {side:>10}: {count:>7,} instructions/call")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
