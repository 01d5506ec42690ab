"""Where a single-item request's time goes, layer by layer, with no server and no network.

Each ASGI app is called directly in one event loop (uvloop) with the
single-item ``exact`` request of bench/hot_path.py, cache off, and each
layer is timed alone:

* ``scorer``: ``RewardCore.score`` on a prepared call (the core);
* ``handler``: the scoring route's handler (body decode, metrics, the call,
  the reply encoded), with its disconnect guard;
* ``edge``: the scoring edge as the server calls it (guards, routing, reply);
* ``app``: the whole rewardgate app; ``bare``: bench/bare_app.py's FastAPI app;
* ``cached64``: bench/hot_path.py's cached 64-item request (``exact``, cache on, every
  score already in the in-memory cache) through the whole app; ``cached64_core``: the
  same request's prepared call on ``RewardCore.score`` (its per-item work without HTTP).

With ``--baseline REV`` the same measurement runs on that revision's tree
(exported with ``git archive``; it has no ``edge`` layer before the scoring
edge moved in front of FastAPI) and on this one, in alternating processes,
``--runs`` times each; each figure is the least over the runs.

Each figure is the least mean over ``--batches`` batches of ``--requests``
calls, the layers taking turns, so machine noise (which only adds time)
mostly drops out. The differences between neighbours are what each layer
costs; ``app / bare`` is the in-process form of hot_path.py's ratio (the
server's own per-request work, the same for both, is not in it).

    python bench/asgi_layers.py [--batches 30] [--requests 300] [--baseline REV --runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

BODY = json.dumps(
    {
        "pipeline": "exact",
        "items": [{"response": "answer 7", "reference": "answer 7"}],
        "options": {"cache": False},
    }
).encode()

#: bench/hot_path.py's ``batch_body(64)``: 64 distinct items, all cached after the first call.
CACHED64_BODY = json.dumps(
    {
        "pipeline": "exact",
        "items": [{"id": str(i), "response": f"answer {i}", "reference": "answer 7"} for i in range(64)],
        "options": {"cache": True},
    }
).encode()


def http_scope(body: bytes = BODY) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/score",
        "raw_path": b"/v1/score",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": {},
    }


async def call_asgi(app, owner=None, body: bytes = BODY) -> None:
    """One request (``body``) through ``app``; the client never disconnects. ``owner``: the
    application whose state the handlers read, when ``app`` is a layer inside it."""
    sent: list[dict] = []
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.get_running_loop().create_future()  # no disconnect, ever
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = http_scope(body)
    if owner is not None:
        scope["app"] = owner
    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"status {sent[0]['status']}: {sent}")


async def start_lifespan(app) -> asyncio.Queue:
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    asyncio.get_running_loop().create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(started.get("message", started))
    return inbox


def layers(app, bare) -> dict:
    """name -> a coroutine function making one call at that layer."""
    from rewardgate.api.http import scoring_routes
    from rewardgate.api.http.codec import score_call
    from rewardgate.api.http.context import cancel_on_disconnect
    from rewardgate.api.http.schemas import ScoreRequest

    context = app.state.context
    call = score_call(ScoreRequest.model_validate_json(BODY))
    cached64_call = score_call(ScoreRequest.model_validate_json(CACHED64_BODY))

    async def never_disconnects() -> dict:
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    guard = functools.partial(cancel_on_disconnect, never_disconnects)

    # The core's front door (an older tree, measured by --compare, holds the scorer itself).
    score = context.core.score if hasattr(context, "core") else context.scorer.score

    async def scorer() -> None:
        await score(call)

    async def handler() -> None:
        await scoring_routes.score(context, BODY, {}, guard)

    async def cached64_core() -> None:
        await score(cached64_call)

    return {
        "scorer": scorer,
        "handler": handler,
        "app": functools.partial(call_asgi, app),
        "bare": functools.partial(call_asgi, bare),
        "cached64": functools.partial(call_asgi, app, body=CACHED64_BODY),
        "cached64_core": cached64_core,
    } | (
        {"edge": functools.partial(call_asgi, app._scoring_edge, app)}
        if hasattr(app, "_scoring_edge")
        else {}
    )


async def measure(batches: int, requests: int) -> dict:
    import bare_app

    from rewardgate.api.http.app import create_app
    from rewardgate.config.settings import Settings, default_pipeline_file

    app = create_app(Settings(config_path=default_pipeline_file(), grpc_port=0))
    stop = await start_lifespan(app)
    await start_lifespan(bare_app.app)
    calls = layers(app, bare_app.app)
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():  # warm up
        for _ in range(requests):
            await call()
            await asyncio.sleep(0)
    for _ in range(batches):
        for name, call in calls.items():
            started = time.perf_counter()
            for _ in range(requests):
                await call()
                await asyncio.sleep(0)  # let the loop run callbacks, as a server's would
            best[name] = min(best[name], (time.perf_counter() - started) / requests * 1e6)
    await stop.put({"type": "lifespan.shutdown"})
    summary = {f"{name}_us": round(value, 1) for name, value in best.items()}
    summary["app_over_bare"] = round(best["app"] / best["bare"], 3)
    return summary


def compare(revision: str, runs: int, batches: int, requests: int) -> dict:
    """This tree and ``revision``'s, measured in alternating subprocesses; least per figure."""
    import tempfile

    from _processes import export, tree_env

    trees = {"baseline": export(revision, Path(tempfile.mkdtemp(prefix="rg-baseline-"))), "current": ROOT}
    best: dict[str, dict[str, float]] = {side: {} for side in trees}
    for _ in range(runs):
        for side, tree in trees.items():
            out = (
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--root",
                        str(tree),
                        "--batches",
                        str(batches),
                        "--requests",
                        str(requests),
                    ],
                    cwd=tree,
                    env=tree_env(tree),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            for name, value in json.loads(out).items():
                if name.endswith("_us"):
                    best[side][name] = min(value, best[side].get(name, float("inf")))
    for figures in best.values():
        figures["app_over_bare"] = round(figures["app_us"] / figures["bare_us"], 3)
    return {"baseline_revision": revision, **best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--baseline", help="also measure this revision's tree, in alternating processes")
    parser.add_argument("--runs", type=int, default=3, help="processes per tree with --baseline")
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)  # which tree to import
    args = parser.parse_args()
    if args.baseline:
        print(json.dumps(compare(args.baseline, args.runs, args.batches, args.requests)))
        return
    sys.path.insert(0, args.root)
    import uvloop

    uvloop.install()
    print(json.dumps(asyncio.run(measure(args.batches, args.requests))))


if __name__ == "__main__":  # the verifier pool spawns processes that re-import this module
    main()
