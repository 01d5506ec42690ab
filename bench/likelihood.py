"""Likelihood scoring through the dynamic batcher, side by side with direct model calls.

A random-weight Llama causal LM (``--hidden-size``, ``--layers``; built here,
nothing downloaded) scores the mean log-probability of each item's reference
after its prompt and response (``kind: likelihood`` defaults, no chat
template). Three sides over the same items, in rounds whose order rotates:

* direct, one at a time: plain ``transformers``, one forward per item in a
  loop, as a reward function in a trainer's process would call it;
* direct, batched: plain ``transformers`` over batches of ``--max-batch``
  right-padded items, handed over whole (no queueing, no concurrency);
* service path: ``--callers`` concurrent single-item callers (the RL rollout
  pattern) through the service's LikelihoodSource: coalesced tokenisation,
  the DynamicBatcher with its token budget, the local backend's forward thread.

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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _rounds import in_rotated_rounds
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewardgate.config.pipeline_file import BatchingSpec, ModelSpec
from rewardgate.items import ScoringItem
from rewardgate.sources.base import SourceKey
from rewardgate.sources.likelihood.source import LikelihoodSource
from rewardgate.sources.likelihood.spec import LikelihoodSpec
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.batching.batcher import DynamicBatcher
from rewardgate.sources.model.random_weights import CORPUS, build_causal_lm

WORDS = " ".join(CORPUS).split()


def word_range(text: str) -> tuple[int, int]:
    low, high = (int(part) for part in text.split(","))
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"LOW,HIGH with 1 <= LOW <= HIGH, got {text!r}")
    return low, high


def make_items(count: int, args) -> list[ScoringItem]:
    """Items of varied lengths: words drawn uniformly in each part's LOW,HIGH range."""
    rng = random.Random(args.seed)

    def text(bounds: tuple[int, int]) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(*bounds)))

    return [
        ScoringItem(text(args.prompt_words), text(args.response_words), reference=text(args.reference_words))
        for _ in range(count)
    ]


class Direct:
    """What a reward function would write with transformers alone."""

    def __init__(self, path: Path) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()

    def rows(self, items: list[ScoringItem]) -> list[tuple[list[int], int]]:
        out = []
        for item in items:
            context = self.tokenizer(item.prompt_text() + item.response + "\n")["input_ids"]
            span = self.tokenizer(item.reference, add_special_tokens=False)["input_ids"]
            out.append((context + span, len(context)))
        return out

    def score(self, items: list[ScoringItem]) -> list[float]:
        rows = self.rows(items)
        longest = max(len(ids) for ids, _ in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([row + [pad] * (longest - len(row)) for row, _ in rows])
        mask = torch.tensor([[1] * len(row) + [0] * (longest - len(row)) for row, _ in rows])
        with torch.inference_mode():
            logprobs = self.model(input_ids=ids, attention_mask=mask, use_cache=False).logits.log_softmax(-1)
        out = []
        for index, (row, start) in enumerate(rows):
            targets = torch.tensor(row[start:]).unsqueeze(-1)
            out.append(float(logprobs[index, start - 1 : len(row) - 1].gather(-1, targets).mean()))
        return out


async def service_source(path: Path, args) -> LikelihoodSource:
    spec = ModelSpec(
        kind="likelihood",
        path=str(path),
        dtype="float32",
        device="cpu",
        use_chat_template=False,
        likelihood=LikelihoodSpec(reference_in_context="allow"),
        batching=BatchingSpec(
            max_batch_items=args.max_batch,
            max_batch_tokens=args.max_batch_tokens,
            max_wait_ms=args.max_wait_ms,
        ),
    )
    backend = LocalBackend("bench", spec)
    batcher = DynamicBatcher(
        "bench",
        backend.infer,
        max_batch_items=spec.batching.max_batch_items,
        max_batch_tokens=spec.batching.max_batch_tokens,
        max_wait_ms=spec.batching.max_wait_ms,
        max_queue_items=10_000,
    )
    source = LikelihoodSource(SourceKey("model", "bench"), spec=spec, backend=backend, batcher=batcher)
    await source.start()
    return source


async def run_service(source: LikelihoodSource, items: list[ScoringItem], callers: int) -> list[float]:
    values: list[float] = [0.0] * len(items)
    queue = iter(range(len(items)))

    async def caller() -> None:
        for index in queue:
            result = await source.compute([items[index]], deadline=time.monotonic() + 600)
            values[index] = result.outcomes[0][0]

    await asyncio.gather(*(caller() for _ in range(callers)))
    return values


async def main_async(args) -> dict:
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = build_causal_lm(Path(tmp) / "lm", hidden_size=args.hidden_size, layers=args.layers)
        items = make_items(args.items, args)
        direct = Direct(path)
        source = await service_source(path, args)
        outputs: dict[str, list[float]] = {}

        def timed(name, run):
            async def measure() -> float:
                start = time.perf_counter()
                outputs[name] = await run()
                return len(items) / (time.perf_counter() - start)

            return measure

        async def one_at_a_time():
            return [direct.score([item])[0] for item in items]

        async def batched():
            out = []
            for start in range(0, len(items), args.max_batch):
                out += direct.score(items[start : start + args.max_batch])
            return out

        runs = {
            "direct_one_at_a_time": timed("direct_one_at_a_time", one_at_a_time),
            "direct_batched": timed("direct_batched", batched),
            "service_batcher": timed("service_batcher", lambda: run_service(source, items, args.callers)),
        }
        await timed("warm-up", lambda: run_service(source, items[: args.max_batch], args.callers))()
        rates = await in_rotated_rounds(runs, args.rounds)
        await source.close()
    agree = max(
        abs(a - b) for a, b in zip(outputs["service_batcher"], outputs["direct_one_at_a_time"], strict=True)
    )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "bench": "likelihood",
        "model": {"hidden_size": args.hidden_size, "layers": args.layers, "threads": args.threads},
        "items": args.items,
        "words": {
            "prompt": args.prompt_words,
            "response": args.response_words,
            "reference": args.reference_words,
        },
        "callers": args.callers,
        "max_batch": args.max_batch,
        "rounds": args.rounds,
        "items_per_s": {name: round(value, 1) for name, value in medians.items()},
        "service_vs_direct_one_at_a_time": round(
            medians["service_batcher"] / medians["direct_one_at_a_time"], 2
        ),
        "service_vs_direct_batched": round(medians["service_batcher"] / medians["direct_batched"], 2),
        "max_abs_difference_service_vs_direct": agree,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=256)
    parser.add_argument("--callers", type=int, default=64, help="concurrent single-item callers")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-batch-tokens", type=int, default=16_384)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the machine is shared)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt-words", type=word_range, default=(5, 40), metavar="LOW,HIGH")
    parser.add_argument("--response-words", type=word_range, default=(10, 120), metavar="LOW,HIGH")
    parser.add_argument("--reference-words", type=word_range, default=(1, 8), metavar="LOW,HIGH")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    print(f"{'side':<24} {'items/s':>10}")
    for name, rate in figures["items_per_s"].items():
        print(f"{name:<24} {rate:>10.1f}")
    print(f"service / direct one at a time = {figures['service_vs_direct_one_at_a_time']}x")
    print(f"service / direct batched       = {figures['service_vs_direct_batched']}x")
    print(f"largest |service - direct| = {figures['max_abs_difference_service_vs_direct']:.2e}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
