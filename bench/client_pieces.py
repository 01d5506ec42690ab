"""The sync client's single-item call against two floors, in instructions (callgrind).

Counts, as bench/instructions.py ``--client`` does (a running service, the main thread's
instructions over 600 calls minus 200, over 400), per ``RewardClient.score([item])``:

* ``client``: the sync client's call;
* ``floor``: bench/raw_caller.py's ``raw_call`` (a new httptools parser per call), the
  floor bench/client_vs_wrk.py times;
* ``floor_kept``: ``raw_call_kept``, the same exchange keeping its parser and a read buffer:
  the least a Python caller with httptools and orjson does per call.

With ``--layers``, also the client's call peeled layer by layer (each figure includes the
layers below it, and the same harness's function call, about 2k, as every figure here):
``exchange`` (the connection's send, wait, read and httptools pass), ``send`` (+ the idle
check and the JSON decode), ``score_single`` (+ the request's format and the results),
``body_head`` (``single_score_head`` alone), ``blocking`` (+ the body head, the deadline
and retry bookkeeping, the thread's transport), ``client`` (+ ``RewardClient.score``).

    python bench/client_pieces.py [--layers]   # the last line is JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from _processes import start_tree_service, tree_env  # noqa: E402
from instructions import MEASURED_CALLS, per_request  # noqa: E402

PROGRAM = """
import os, subprocess, sys
sys.path.insert(0, "bench")
from raw_caller import ITEM, raw_call, raw_call_kept

def control(*args):
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)

url, side, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if side not in ("floor", "floor_kept"):
    import time
    from rewardgate_client import RewardClient
    client = RewardClient(url)
    client.score([ITEM], "exact", cache=False)
    transport = client._thread_transport()
    head = transport.single_score_head("exact", [ITEM], {"cache": False})
    request = transport._heads["/v1/score"] + b"%d\\r\\n\\r\\n%s59999}}" % (len(head) + 7, head)
    call = {
        "client": lambda: client.score([ITEM], "exact", cache=False),
        "blocking": lambda: client._score_blocking([ITEM], "exact", None, {"cache": False}),
        "body_head": lambda: transport.single_score_head("exact", [ITEM], {"cache": False}),
        "score_single": lambda: transport.score_single(head, 59999, 60.0),
        "send": lambda: transport._send(request, 60.0),
        "exchange": lambda: transport._connection.exchange(request, time.monotonic() + 60),
    }[side]
else:
    call = (raw_call if side == "floor" else raw_call_kept)(url)
"""
PROGRAM += MEASURED_CALLS


LAYERS = ("exchange", "send", "score_single", "body_head", "blocking")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", action="store_true", help="also the client's call layer by layer")
    args = parser.parse_args()
    sides = ("client", "floor", "floor_kept", *(LAYERS if args.layers else ()))
    process, url, _grpc = start_tree_service(ROOT)
    try:
        figures = {side: per_request(PROGRAM, [url, side], ROOT, tree_env(ROOT)) for side in sides}
    finally:
        process.terminate()
        process.wait(timeout=30)
    for side, count in figures.items():
        print(f"  {side:>10}: {count:>7,} instructions/call")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
