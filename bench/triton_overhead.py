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
import tritonclient.grpc.aio as triton
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from service.items import ScoringItem
from service.sources.model.runners.reward_model import RewardModelEncoder
from tests.support.server import ServiceProcess
from tests.support.tiny_models import build_reward_model
from tests.support.triton import MODEL_NAME, start_triton

PROMPT = "Rate the answer."


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


async def closed_loop(clients: int, duration_s: float, warmup_s: float, send) -> dict:
    """``clients`` loops calling ``send(i) -> items``; items/s and latency after warm-up."""
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

    await asyncio.gather(*(loop(c) for c in range(clients)))
    latencies.sort()
    return {
        "items_per_s": round(items / duration_s, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }


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
    url: str, encoder: RewardModelEncoder, texts: list[str], per_request: int, clients: int, args
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
        result = await client.infer(MODEL_NAME, triton_inputs([w.payload for w in work], width))
        return result.as_numpy("rewards").shape[0]

    try:
        return await closed_loop(clients, args.duration_s, args.warmup_s, send)
    finally:
        await client.close()


async def gateway(url: str, texts: list[str], per_request: int, clients: int, args) -> dict:
    bodies = [
        json.dumps(
            {
                "pipeline": "rm",
                "items": [{"prompt": PROMPT, "response": t} for t in texts[i : i + per_request]],
            }
        ).encode()
        for i in range(0, len(texts) - per_request + 1, per_request)
    ]
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def send(i: int) -> int:
            async with session.post(
                "/v1/score", data=bodies[i % len(bodies)], headers={"content-type": "application/json"}
            ) as response:
                body = await response.json()
                assert response.status == 200, body
                return len(body["results"])

        return await closed_loop(clients, args.duration_s, args.warmup_s, send)


def start_gateway(model_dir: Path, triton_url: str, workdir: Path) -> ServiceProcess:
    config = workdir / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "rm": {
                        "kind": "reward_model",
                        "backend": "triton",
                        "path": str(model_dir),
                        "triton_url": triton_url,
                        "triton_model": MODEL_NAME,
                        "batching": {"max_batch_items": 64, "max_wait_ms": 2, "max_concurrent_batches": 2},
                    }
                },
                "pipelines": {"rm": {"components": {"r": {"model": "rm"}}}},
            }
        )
    )
    env = {"REWARDGATE_CACHE_MAX_ENTRIES": "0", "REWARDGATE_LOG_LEVEL": "warning"}
    return ServiceProcess(config, env=env, log_path=workdir / "gateway.log").wait()


async def measure_all(triton_url: str, gateway_url: str, texts, encoder, args) -> dict:
    return {
        "batched_direct": await direct(triton_url, encoder, texts, 64, args.batch_clients, args),
        "batched_gateway": await gateway(gateway_url, texts, 64, args.batch_clients, args),
        "single_direct": await direct(triton_url, encoder, texts, 1, args.single_clients, args),
        "single_gateway": await gateway(gateway_url, texts, 1, args.single_clients, args),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--single-clients", type=int, default=64)
    parser.add_argument("--duration-s", type=float, default=8.0)
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--torch-threads", type=int, default=1, help="Triton model intra-op threads")
    parser.add_argument("--min-words", type=int, default=24, help="shortest response (words)")
    parser.add_argument("--max-words", type=int, default=24, help="longest response (words)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_dir = build_reward_model(workdir / "model", hidden_size=args.hidden_size, layers=args.layers)
        texts = make_texts(1024, args.min_words, args.max_words)
        encoder = RewardModelEncoder(model_dir)
        rows = [work.payload for work in encoder.encode_many([ScoringItem(PROMPT, t) for t in texts])]
        server = start_triton(model_dir, workdir, torch_threads=args.torch_threads)
        try:
            service = start_gateway(model_dir, server.grpc_url, workdir)
            try:
                results = asyncio.run(measure_all(server.grpc_url, service.url, texts, encoder, args))
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
        **results,
        "batched_gateway_vs_direct": round(
            results["batched_gateway"]["items_per_s"] / results["batched_direct"]["items_per_s"], 3
        ),
        "single_gateway_vs_triton_batcher": round(
            results["single_gateway"]["items_per_s"] / results["single_direct"]["items_per_s"], 3
        ),
    }
    print(f"{'path':<34} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    labels = {
        "batched_direct": "64-item requests, direct Triton",
        "batched_gateway": "64-item requests, via gateway",
        "single_direct": "1-item requests, direct Triton",
        "single_gateway": "1-item requests, via gateway",
    }
    for key, label in labels.items():
        row = results[key]
        print(f"{label:<34} {row['items_per_s']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}")
    print(f"gateway/direct (batching clients) = {figures['batched_gateway_vs_direct']}")
    print(f"gateway/Triton batcher (single-item clients) = {figures['single_gateway_vs_triton_batcher']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
