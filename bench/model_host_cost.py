"""The model path's per-item host cost, by thread, against a baseline tree (issue #30).

256 concurrent single-item callers (the RL pattern) score the CPU length mix of
bench/gpu_reward_model.py (a random-weight Llama of hidden size 128, its
locally trained tokenizer and chat template) through ``ModelSource`` over the
in-process backend: coalesced tokenisation, the dynamic batcher, the layout
and forward threads. Around the timed run every thread's CPU time is read
from ``/proc/self/task/<tid>/schedstat`` (nanoseconds, so threads the script
does not own are counted too) and reported per item:

* ``loop``: the event loop's thread (callers, the batcher, futures);
* ``tokenize``: the coalescing encoder's thread (chat template, tokenizer);
* ``prepare``: the layout thread; ``forward``: the forward thread;
* ``other``: every other thread (the Rust tokenizer's pool, torch's).

The direct forward (every batch the batcher's policy forms, back to back
through the runner) runs in the same process, so each run also gives the
in-process / direct items/s ratio.

``--baseline REV`` runs the same measurement on that revision's tree
(exported with ``git archive``) in alternating subprocesses, rounds rotating
which goes first, so both sides see the same machine load. The last line is JSON.

    python bench/model_host_cost.py [--baseline HEAD~3] [--rounds 3] [--items 256] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def thread_cpu_ns() -> dict[int, int]:
    """CPU nanoseconds of every thread of this process, by native thread id."""
    figures = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as handle:
                figures[int(tid)] = int(handle.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            pass
    return figures


def thread_roles() -> dict[int, str]:
    """Role of each Python thread by native id (the executors' name prefixes)."""
    roles = {}
    for thread in threading.enumerate():
        name = thread.name
        role = next((r for r in ("tokenize", "prepare", "forward") if name.startswith(r)), None)
        if thread is threading.main_thread():
            role = "loop"
        if role is not None and thread.native_id is not None:
            roles[thread.native_id] = role
    return roles


async def service_single(runner, items, args, profile: bool) -> dict:
    """Every item once from ``args.callers`` concurrent single-item callers; CPU by thread role."""
    from gpu_reward_model import started_source

    from rewardgate.config.pipeline_file import ModelSpec
    from rewardgate.sources.model.backends.local import LocalBackend

    spec = ModelSpec(kind="reward_model", path=str(runner.path))
    backend = LocalBackend("rm", spec)
    backend._runner = runner  # the runner built here (random weights), not loaded again
    source = started_source(backend, spec, args)
    pending = iter(items)
    scores: list = [None] * len(items)
    position = {id(item): index for index, item in enumerate(items)}

    async def caller() -> None:
        for item in pending:
            result = await source.compute([item], time.monotonic() + 600)
            assert isinstance(result.outcomes[0], list), result.outcomes
            scores[position[id(item)]] = result.outcomes[0]

    await source.compute(items[:8], time.monotonic() + 600)  # warm: creates the threads
    roles = thread_roles()
    before = thread_cpu_ns()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(args.callers)))
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    after = thread_cpu_ns()
    await source.close()
    cpu: dict[str, float] = {"loop": 0, "tokenize": 0, "prepare": 0, "forward": 0, "other": 0}
    others = []
    for tid, ns in after.items():
        cpu[roles.get(tid, "other")] += ns - before.get(tid, 0)
        if tid not in roles and ns > before.get(tid, 0):
            others.append(round((ns - before.get(tid, 0)) / 1e3 / len(items), 1))
    figures = {
        "seconds": seconds,
        "items_per_s": len(items) / seconds,
        "cpu_us_per_item": {role: ns / 1e3 / len(items) for role, ns in cpu.items()},
        "scores": scores,
        "other_threads_us_per_item": sorted(others, reverse=True),
    }
    if profiler is not None:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(60)
        figures["profile"] = out.getvalue()
    return figures


def worker(args) -> dict:
    """One measurement in this process, on the ``rewardgate`` first on ``sys.path``."""
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_reward_model import build_model, direct, length_mix, make_items, policy_batches

    from rewardgate.sources.model.batching.queue import BatchLimits
    from rewardgate.sources.model.runners.reward_model import RewardModelRunner

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        model = build_model(Path(directory), "cpu", torch.device("cpu"), torch.float32)
        runner = RewardModelRunner(directory, model=model, device="cpu", max_length=256 + 64)
        items, ids = make_items(runner.encoder, length_mix(args.items, 32, 256))
        limits = BatchLimits(args.max_batch_items, args.max_batch_tokens, 0, packed=runner.layout.packed)
        batches = policy_batches([len(r) for r in ids], limits)
        direct(runner, ids, batches, torch.device("cpu"))  # warm
        first = direct(runner, ids, batches, torch.device("cpu"))
        service = asyncio.run(service_single(runner, items, args, args.profile))
        second = direct(runner, ids, batches, torch.device("cpu"))
    direct_items_per_s = 2 / (1 / first["items_per_s"] + 1 / second["items_per_s"])
    service["direct_items_per_s"] = direct_items_per_s
    service["vs_direct"] = service["items_per_s"] / direct_items_per_s
    return service


def tokenizer_side_by_side(args) -> dict:
    """µs of this thread's CPU per item to turn the mix's chat texts into ids: the wrapper
    (``tokenizer(texts)["input_ids"]``, as before) and :class:`TokenIds`, in one process, one
    thread (``TOKENIZERS_PARALLELISM=false``), alternating, best of ``args.rounds * 3``."""
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_reward_model import build_model, length_mix, make_items

    from rewardgate.sources.model.runners.reward_model import RewardModelEncoder

    with tempfile.TemporaryDirectory() as directory:
        build_model(Path(directory), "cpu", torch.device("cpu"), torch.float32)  # tokenizer + config
        encoder = RewardModelEncoder(directory, max_length=320)
        items, _ = make_items(encoder, length_mix(args.items, 32, 256))
    texts = [encoder.chat_text(item) for item in items]
    ways = {
        "chat template": lambda: [encoder.chat_text(item) for item in items],
        "wrapper": lambda: encoder.tokenizer(texts, add_special_tokens=False)["input_ids"],
        "direct": lambda: encoder._ids(texts, add_special_tokens=False),
    }
    assert ways["wrapper"]() == ways["direct"](), "the direct ids differ"
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(args.rounds * 3):
        for name, way in ways.items():
            started = time.thread_time()
            way()
            best[name] = min(best[name], time.thread_time() - started)
    return {name: seconds / len(items) * 1e6 for name, seconds in best.items()}


def export_tree(revision: str, into: Path) -> Path:
    """``revision``'s ``rewardgate`` and ``bench`` exported under ``into``, with this script
    (bench/gpu_reward_model.py puts its own tree first on ``sys.path``)."""
    archive = subprocess.run(
        ["git", "archive", revision, "rewardgate", "bench"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    shutil.copy(__file__, into / "bench" / Path(__file__).name)
    return into


def run_side(tree: Path, args) -> dict:
    """One worker subprocess on ``tree``'s rewardgate; its JSON result."""
    script = tree / "bench" / Path(__file__).name
    command = [sys.executable, str(script), "--worker", "--items", str(args.items)]
    command += ["--callers", str(args.callers), "--max-wait-ms", str(args.max_wait_ms)]
    command += [
        "--max-batch-items",
        str(args.max_batch_items),
        "--max-batch-tokens",
        str(args.max_batch_tokens),
    ]
    if args.profile:
        command.append("--profile")
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="git revision to measure beside the working tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=1024)
    parser.add_argument("--callers", type=int, default=256)
    parser.add_argument("--max-batch-items", type=int, default=64)
    parser.add_argument("--max-batch-tokens", type=int, default=4096)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the event loop (prints it)")
    parser.add_argument(
        "--tokenizer", action="store_true", help="only the tokeniser's ids, wrapper vs direct, one thread"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tokenizer:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        figures = tokenizer_side_by_side(args)
        print(" | ".join(f"{name}: {us:.1f} µs/item" for name, us in figures.items()))
        print(json.dumps({"bench": "model_host_cost", "tokenizer_us_per_item": figures}))
        return
    if args.worker:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(worker(args)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"current": ROOT}
        if args.baseline:
            trees = {"baseline": export_tree(args.baseline, Path(scratch)), **trees}
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        names = list(trees)
        for number in range(args.rounds):
            for name in names[number % len(names) :] + names[: number % len(names)]:
                runs[name].append(run_side(trees[name], args))
    summary = {}
    for name, results in runs.items():
        roles = results[0]["cpu_us_per_item"]
        summary[name] = {
            "cpu_us_per_item": {r: median([x["cpu_us_per_item"][r] for x in results]) for r in roles},
            "vs_direct_rounds": sorted(x["vs_direct"] for x in results),
            "items_per_s": median([x["items_per_s"] for x in results]),
            "direct_items_per_s": median([x["direct_items_per_s"] for x in results]),
        }
        if args.profile:
            print(f"## {name}: event loop profile (last round)\n{results[-1]['profile']}")
            print(f"other threads, µs/item each: {results[-1]['other_threads_us_per_item']}")
    if args.baseline:  # rewards must not move (batches may differ: arrival order is timing's)
        difference = max(
            abs(a - b)
            for old, new in zip(runs["baseline"], runs["current"], strict=True)
            for row_a, row_b in zip(old["scores"], new["scores"], strict=True)
            for a, b in zip(row_a, row_b, strict=True)
        )
        print(f"largest score difference between the trees, every round: {difference:.3g}")
        summary["largest_score_difference"] = difference
        assert difference <= 1e-5, "scores differ between the trees"
    print("| side | loop | tokenize | prepare | forward | other | items/s | direct | vs direct (rounds) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in runs:
        s = summary[name]
        c = s["cpu_us_per_item"]
        ratios = ", ".join(f"{x:.2f}" for x in s["vs_direct_rounds"])
        cpu = " | ".join(f"{c[role]:.1f}" for role in ("loop", "tokenize", "prepare", "forward", "other"))
        print(f"| {name} | {cpu} | {s['items_per_s']:.1f} | {s['direct_items_per_s']:.1f} | {ratios} |")
    print(json.dumps({"bench": "model_host_cost", "config": vars(args), "summary": summary}))


if __name__ == "__main__":
    main()
