"""Gateway overhead over Triton, and gateway batching vs Triton's own batcher.

One Triton server (CPU, from nvidia-pytriton) serves a small random reward
model; one rewardgate gateway points at it (cache off). Same item mix and
concurrency on both paths, measured side by side in one run:

* batching clients: ``--batch-clients`` clients each sending 64-item requests,
  (a) directly to Triton with tritonclient (the client tokenises with the same
  encoder, as any caller of Triton must) vs (b) through the gateway over HTTP
  (text in, tokenised by the gateway);
* single-item clients (the OpenRLHF pattern): ``--single-clients`` clients
  each sending one item per request, directly to Triton (relying on Triton's
  dynamic batcher; rows padded to one length so Triton can merge them) vs
  through the gateway (its dynamic batcher).

The direct clients use a Triton model entry with Triton's dynamic batcher (they
need it to merge single items); the gateway uses a second entry of the same
weights without it, as ``rewardgate triton-repo`` writes by default (the
gateway sends whole batches; ``--gateway-triton-batcher`` gives it the batcher
entry instead). For each phase the CPU time of the gateway, of Triton (server
and python-backend stubs) and of this load generator is read from /proc and
reported per item, so a ratio below 1 can be traced to the process paying it.

The phases run ``--rounds`` times, their order rotated each round (the machine
drifts during a run); the table shows each figure's median over the rounds,
and each ratio is the median of the per-round ratios, with their range.
``--batching-variants`` adds single-item phases through the gateway batching
variants of ``BATCHING_VARIANTS`` (one batch in flight; partial batches
overlapping, the behaviour before session 8).

Prints a table, then one JSON object (the last line) with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
import psutil
import tritonclient.grpc.aio as triton
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._rounds import in_rotated_rounds
from rewardgate.items import ScoringItem
from rewardgate.sources.model.runners.reward_model import RewardModelEncoder
from tests.support.server import ServiceProcess
from tests.support.tiny_models import build_reward_model
from tests.support.triton import start_triton_models

PROMPT = "Rate the answer."
DIRECT_MODEL = "rm_triton_batcher"  # Triton's dynamic batcher in front: for direct clients
GATEWAY_MODEL = "rm_gateway"  # no Triton batcher: the gateway's batches go straight to the instance


def make_texts(count: int, min_words: int = 24, max_words: int = 24, seed: int = 0) -> list[str]:
    """``count`` responses of ``min_words``..``max_words`` words (uniformly drawn, fixed seed).

    The default is the uniform mix (every response 24 words). RL rollouts vary
    in length by an order of magnitude; a spread (e.g. 8..160) shows what each
    batcher pays in padding.
    """
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "reward",
        "models",
        "score",
        "responses",
    ]
    rng = random.Random(seed)
    lengths = [rng.randint(min_words, max_words) for _ in range(count)]
    return [" ".join(words[(i + j) % len(words)] for j in range(n)) + f" {i}" for i, n in enumerate(lengths)]


class CpuMeter:
    """CPU seconds (user + system) spent by named processes between ``start()`` and ``stop()``.

    ``trees`` are counted with all their descendants (Triton's python-backend
    stubs are children of ``tritonserver``); ``alone`` without (this load
    generator, whose children are the servers it measures).
    """

    def __init__(self, trees: dict[str, int], alone: dict[str, int]) -> None:
        self._trees = {name: psutil.Process(pid) for name, pid in trees.items()}
        self._alone = {name: psutil.Process(pid) for name, pid in alone.items()}
        self._began: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        def cpu(process: psutil.Process) -> float:
            user, system = process.cpu_times()[:2]
            return user + system

        totals = {name: cpu(p) for name, p in self._alone.items()}
        for name, root in self._trees.items():
            totals[name] = sum(cpu(p) for p in (root, *root.children(recursive=True)))
        return totals

    def start(self) -> None:
        self._began = self._read()

    def stop(self) -> None:
        now = self._read()
        self.seconds = {name: now[name] - self._began[name] for name in now}


async def run_closed_loop(
    clients: int, duration_s: float, warmup_s: float, send, meter: CpuMeter | None = None
) -> tuple[list[float], int]:
    """``clients`` loops calling ``send(i) -> items``: (latencies, items) of the requests begun
    after warm-up; ``meter`` (if given) is read over the same window."""
    latencies: list[float] = []
    items = 0
    start = time.perf_counter()
    measure_from, stop_at = start + warmup_s, start + warmup_s + duration_s

    async def loop(client: int) -> None:
        nonlocal items
        i = client
        while (began := time.perf_counter()) < stop_at:
            done = await send(i)
            if began >= measure_from:
                latencies.append(time.perf_counter() - began)
                items += done
            i += clients

    async def read_meter() -> None:
        await asyncio.sleep(warmup_s)
        meter.start()
        await asyncio.sleep(duration_s)
        meter.stop()

    await asyncio.gather(*(loop(c) for c in range(clients)), *([read_meter()] if meter else []))
    latencies.sort()
    return latencies, items


async def closed_loop(clients: int, duration_s: float, warmup_s: float, send, meter=None) -> dict:
    """items/s, p50 and p99 of :func:`run_closed_loop`; with ``meter``, CPU µs per item by process."""
    latencies, items = await run_closed_loop(clients, duration_s, warmup_s, send, meter)
    summary = {
        "items_per_s": round(items / duration_s, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }
    if meter is not None:
        summary["cpu_us_per_item"] = {
            name: round(1e6 * s / max(items, 1), 1) for name, s in meter.seconds.items()
        }
    return summary


def triton_inputs(rows: list[list[int]], width: int):
    ids = np.zeros((len(rows), width), dtype=np.int64)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = row
    lengths = np.array([[len(row)] for row in rows], dtype=np.int64)
    inputs = [
        triton.InferInput("input_ids", list(ids.shape), "INT64"),
        triton.InferInput("lengths", list(lengths.shape), "INT64"),
    ]
    inputs[0].set_data_from_numpy(ids)
    inputs[1].set_data_from_numpy(lengths)
    return inputs


async def direct(
    url: str, encoder: RewardModelEncoder, texts: list[str], per_request: int, clients: int, args, meter=None
) -> dict:
    """A client of Triton itself: it tokenises its items (off its event loop, with the
    same encoder as the gateway) and pads every request to the mix's longest row,
    so Triton's batcher can merge single-item requests."""
    client = triton.InferenceServerClient(url)
    requests = [
        [ScoringItem(PROMPT, t) for t in texts[i : i + per_request]]
        for i in range(0, len(texts) - per_request + 1, per_request)
    ]
    width = max(len(w.payload) for w in encoder.encode_many([i for r in requests for i in r]))

    async def send(i: int) -> int:
        work = await asyncio.to_thread(encoder.encode_many, requests[i % len(requests)])
        result = await client.infer(DIRECT_MODEL, triton_inputs([w.payload for w in work], width))
        return result.as_numpy("rewards").shape[0]

    try:
        return await closed_loop(clients, args.duration_s, args.warmup_s, send, meter)
    finally:
        await client.close()


def gateway_bodies(texts: list[str], per_request: int, pipeline: str) -> list[bytes]:
    """``/v1/score`` bodies of ``per_request`` items each, over ``texts``."""
    return [
        json.dumps(
            {
                "pipeline": pipeline,
                "items": [{"prompt": PROMPT, "response": t} for t in texts[i : i + per_request]],
            }
        ).encode()
        for i in range(0, len(texts) - per_request + 1, per_request)
    ]


def gateway_sender(session: aiohttp.ClientSession, bodies: list[bytes]):
    """``send(i)`` for :func:`run_closed_loop`: POST body ``i`` (cycling) to ``/v1/score``;
    the number of results."""

    async def send(i: int) -> int:
        async with session.post(
            "/v1/score", data=bodies[i % len(bodies)], headers={"content-type": "application/json"}
        ) as response:
            body = await response.json()
            assert response.status == 200, body
            return len(body["results"])

    return send


async def gateway(
    url: str, texts: list[str], per_request: int, clients: int, args, meter=None, pipeline: str = "rm"
) -> dict:
    bodies = gateway_bodies(texts, per_request, pipeline)
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients)) as session:
        send = gateway_sender(session, bodies)
        return await closed_loop(clients, args.duration_s, args.warmup_s, send, meter)


def add_run_arguments(
    parser: argparse.ArgumentParser, *, hidden_size: int, layers: int, warmup_s: float
) -> None:
    """The model size, phase timing and Triton threads, shared by the Triton benches."""
    parser.add_argument("--hidden-size", type=int, default=hidden_size)
    parser.add_argument("--layers", type=int, default=layers)
    parser.add_argument("--duration-s", type=float, default=8.0)
    parser.add_argument("--warmup-s", type=float, default=warmup_s)
    parser.add_argument("--torch-threads", type=int, default=1, help="Triton model intra-op threads")


#: Gateway batching for the variants (``--batching-variants``); "gateway" is the
#: documented Triton setup (docs/triton.md).
BATCHING_VARIANTS = {
    "gateway": {"max_concurrent_batches": 2},
    "one_batch_in_flight": {"max_concurrent_batches": 1},
    "partial_batches_overlap": {"max_concurrent_batches": 2, "overlap_partial_batches": True},
}


def start_gateway(
    model_dir: Path, triton_url: str, workdir: Path, pipelines: dict[str, dict]
) -> ServiceProcess:
    """A gateway (cache off) with one single-component pipeline per entry of ``pipelines``:
    name -> ``{"triton_model": ..., **batching overrides}``."""
    config = workdir / "gateway.yaml"
    models = {}
    for name, options in pipelines.items():
        batching = {"max_batch_items": 64, "max_wait_ms": 2, "max_concurrent_batches": 2}
        batching.update({k: v for k, v in options.items() if k != "triton_model"})
        models[name] = {
            "kind": "reward_model",
            "backend": "triton",
            "path": str(model_dir),
            "triton_url": triton_url,
            "triton_model": options["triton_model"],
            "batching": batching,
        }
    pipelines_yaml = {name: {"components": {"r": {"model": name}}} for name in pipelines}
    config.write_text(yaml.safe_dump({"models": models, "pipelines": pipelines_yaml}))
    env = {"REWARDGATE_CACHE_MAX_ENTRIES": "0", "REWARDGATE_LOG_LEVEL": "warning"}
    return ServiceProcess(config, env=env, log_path=workdir / "gateway.log").wait()


def start_servers(model_dir: Path, workdir: Path, torch_threads: int):
    """Triton serving the weights as DIRECT_MODEL (Triton's batcher on) and GATEWAY_MODEL
    (off); returns the server."""
    return start_triton_models(
        model_dir,
        workdir,
        {
            DIRECT_MODEL: {"torch_threads": torch_threads, "dynamic_batching": True},
            GATEWAY_MODEL: {"torch_threads": torch_threads, "dynamic_batching": False},
        },
    )


def phases(triton_url: str, gateway_url: str, texts, encoder, args, meter: CpuMeter) -> dict:
    """Phase name -> coroutine factory, each phase read by ``meter``."""
    batched, single = args.batch_clients, args.single_clients
    phases = {
        "batched_direct": lambda: direct(triton_url, encoder, texts, 64, batched, args, meter),
        "batched_gateway": lambda: gateway(gateway_url, texts, 64, batched, args, meter, args.pipeline),
        "single_direct": lambda: direct(triton_url, encoder, texts, 1, single, args, meter),
        "single_gateway": lambda: gateway(gateway_url, texts, 1, single, args, meter, args.pipeline),
    }
    if args.batching_variants:
        for variant in list(BATCHING_VARIANTS)[1:]:
            phases[f"single_{variant}"] = lambda v=variant: gateway(
                gateway_url, texts, 1, single, args, meter, v
            )
    return phases


def median_row(rows: list[dict]) -> dict:
    """The median of each figure over the rounds."""
    row = {key: statistics.median(r[key] for r in rows) for key in ("items_per_s", "p50_ms", "p99_ms")}
    row["cpu_us_per_item"] = {
        name: round(statistics.median(r["cpu_us_per_item"][name] for r in rows), 1)
        for name in rows[0]["cpu_us_per_item"]
    }
    return row


def ratios(results: dict[str, list[dict]], numerator: str, denominator: str) -> dict:
    """Per-round items/s ratios: median, min and max."""
    each = [
        a["items_per_s"] / b["items_per_s"]
        for a, b in zip(results[numerator], results[denominator], strict=True)
    ]
    return {
        "median": round(statistics.median(each), 3),
        "min": round(min(each), 3),
        "max": round(max(each), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, hidden_size=256, layers=4, warmup_s=2.0)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--single-clients", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every phase, order rotated")
    parser.add_argument("--min-words", type=int, default=24, help="shortest response (words)")
    parser.add_argument("--max-words", type=int, default=24, help="longest response (words)")
    parser.add_argument(
        "--gateway-triton-batcher",
        action="store_true",
        help="send the gateway's batches to the entry with Triton's batcher (the pre-session-8 setup)",
    )
    parser.add_argument(
        "--batching-variants",
        action="store_true",
        help="also measure single-item callers through the gateway batching variants of BATCHING_VARIANTS",
    )
    args = parser.parse_args()
    args.pipeline = "triton_batcher" if args.gateway_triton_batcher else "gateway"

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_dir = build_reward_model(workdir / "model", hidden_size=args.hidden_size, layers=args.layers)
        texts = make_texts(1024, args.min_words, args.max_words)
        encoder = RewardModelEncoder(model_dir)
        rows = [work.payload for work in encoder.encode_many([ScoringItem(PROMPT, t) for t in texts])]
        server = start_servers(model_dir, workdir, args.torch_threads)
        try:
            pipelines = {name: {"triton_model": GATEWAY_MODEL, **b} for name, b in BATCHING_VARIANTS.items()}
            pipelines["triton_batcher"] = {"triton_model": DIRECT_MODEL}
            service = start_gateway(model_dir, server.grpc_url, workdir, pipelines)
            try:
                meter = CpuMeter(
                    trees={"gateway": service.process.pid, "triton": server.process.pid},
                    alone={"load_generator": psutil.Process().pid},
                )
                runs = phases(server.grpc_url, service.url, texts, encoder, args, meter)
                results = asyncio.run(in_rotated_rounds(runs, args.rounds))
            finally:
                service.stop()
        finally:
            server.cleanup()

    figures = {
        "bench": "triton_overhead",
        "model": {
            "hidden_size": args.hidden_size,
            "layers": args.layers,
            "tokens_per_item": round(sum(map(len, rows)) / len(rows), 1),
            "max_tokens_per_item": max(map(len, rows)),
        },
        "clients": {"batched": args.batch_clients, "single": args.single_clients},
        "rounds": args.rounds,
        "gateway_triton_batcher": args.gateway_triton_batcher,
        **{name: median_row(rows) for name, rows in results.items()},
        "batched_gateway_vs_direct": ratios(results, "batched_gateway", "batched_direct"),
        "single_gateway_vs_triton_batcher": ratios(results, "single_gateway", "single_direct"),
    }
    for name in results:
        if name.startswith("single_") and name not in ("single_direct", "single_gateway"):
            figures[f"{name}_vs_triton_batcher"] = ratios(results, name, "single_direct")
    print_table({name: figures[name] for name in results})
    for key, value in figures.items():
        if key.endswith(("_vs_direct", "_vs_triton_batcher")):
            print(f"{key} = {value['median']} (rounds: {value['min']}-{value['max']})")
    print(json.dumps(figures))


def print_table(results: dict) -> None:
    print(
        f"{'phase (medians over rounds)':<34} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'CPU µs/item: gateway':>21} {'triton':>7} {'loadgen':>8}"
    )
    for name, row in results.items():
        cpu = row["cpu_us_per_item"]
        print(
            f"{name:<34} {row['items_per_s']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
            f" {cpu['gateway']:>21.0f} {cpu['triton']:>7.0f} {cpu['load_generator']:>8.0f}"
        )


if __name__ == "__main__":
    main()
