"""Reward models at GPU speed: packing, cache, direct ceiling and the in-process service.

Runs on any CUDA machine with no network and only the service's runtime
dependencies, and on CPU with small models (what CI can do). Random-weight sequence classifiers of
real shapes are built directly on the device (``--sizes 1.5b,8b``: Qwen2-1.5B
and Llama-3-8B shapes, bf16) next to a tokenizer trained here; their weights
never touch the disk. One RL length mix (prompt + response, ``--min-tokens``
..``--max-tokens``, fixed seed) is scored by every phase:

* layout: the batches the dynamic batcher's own policy forms at the same
  ``--max-batch-tokens`` budget, padded (rows x longest) and packed
  (rewardgate/sources/model/packing.py, row_plan.py); real / computed tokens
  for each, and the attention entries they compute (a masked row computes all
  ``C x C``) against the causal ones the sequences need, and the whole
  forward's needed / computed work (rewardgate/sources/model/row_plan.py);
* memory: peak memory of one batch, padded with the KV cache on (what the
  runner did before), padded with ``use_cache=False``, packed (each in its own
  process on CPU: peak RSS over the loaded baseline; CUDA: peak allocated);
* calibration: ``max_batch_tokens`` derived from measured peaks of doubling
  probe batches at ``--memory-fraction`` of free memory
  (rewardgate/sources/model/memory_budget.py; CUDA: the service's own
  load-time calibration; CPU: a process per probe, see :func:`calibration`);
* direct: the forward ceiling, every batch run back to back through the
  runner (padded and packed): items/s, real tokens/s, and MFU against
  ``--peak-tflops`` (dense bf16 peak of the card, detected for H100/H200/A100);
* in-process service: the same items through ``ModelSource`` (tokenise,
  dynamic batcher, forward thread) from 256 concurrent single-item callers,
  and from 4 callers of 64-item requests; ratio to the packed direct ceiling;
* host layout: µs per item to lay batches out on the host (padded, packed,
  and one tensor per row as before #30);
* the GPU length mix's layouts for the 1.5B and 8B shapes, computed on the
  host (batch formation and row layout need no device).

* ``--triton``: Triton (nvidia-pytriton's server, the dev extra; the weights
  are written to disk for it) directly with 64-item requests of packed token ids,
  and the gateway's Triton path (``ModelSource`` over ``TritonBackend``: text
  in, tokenised and batched here) from 256 single-item callers and 64-item
  requests; ratios to the packed direct ceiling. HTTP in front of the
  gateway is measured by bench/triton_overhead.py and bench/hot_path.py.

Prints a table, then one JSON object (the last line) with every figure.
Example (CPU): ``python bench/gpu_reward_model.py --device cpu``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._rounds import rotated
from rewardgate.config.pipeline_file import ModelSpec
from rewardgate.items import ScoringItem
from rewardgate.sources.base import SourceKey
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.backends.triton import TritonBackend, request_tensors
from rewardgate.sources.model.batching.batcher import DynamicBatcher
from rewardgate.sources.model.batching.queue import BatchLimits, PendingItem, PendingQueue
from rewardgate.sources.model.memory_budget import (
    MemoryProbe,
    calibrate_cuda,
    derive_budget,
    probe_sizes,
    runner_probe,
)
from rewardgate.sources.model.packing import layout_rows
from rewardgate.sources.model.random_weights import build_tokenizer
from rewardgate.sources.model.row_plan import attention_tokens_for, choose_rows, layout_work, padded_work
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.source import ModelSource

# Real shapes (public configs); vocabulary sizes are real, only the tokenizer's ids are used.
SHAPES = {
    "cpu": dict(
        architecture="llama", hidden_size=128, intermediate_size=344, num_hidden_layers=6,
        num_attention_heads=4, num_key_value_heads=4, vocab_size=32000,
    ),
    "1.5b": dict(
        architecture="qwen2", hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
        num_attention_heads=12, num_key_value_heads=2, vocab_size=151936,
    ),
    "8b": dict(
        architecture="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
    ),
}  # fmt: skip
# Dense bf16 peak TFLOP/s by device name (datasheet figures without sparsity).
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "what", "is", "two", "plus"]


def build_model(directory: Path, size: str, device: torch.device, dtype: torch.dtype):
    """Tokenizer + config in ``directory``; the random-weight classifier built on ``device``."""
    import transformers

    shape = dict(SHAPES[size])
    architecture = shape.pop("architecture")
    tokenizer = build_tokenizer(directory)
    config_class = {"llama": transformers.LlamaConfig, "qwen2": transformers.Qwen2Config}[architecture]
    config = config_class(
        **shape, num_labels=1, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id
    )
    config.save_pretrained(directory)
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.AutoModelForSequenceClassification.from_config(config, dtype=dtype)
    return model.eval()


def length_mix(count: int, low: int, high: int, seed: int = 0) -> list[int]:
    """RL-like target lengths: prompts uniform in the lower quarter, responses log-uniform (many
    short, a long tail), clipped to ``low..high``."""
    rng = random.Random(seed)
    lengths = []
    for _ in range(count):
        prompt = rng.randint(low // 2, max(low // 2, high // 4))
        response = int(2 ** rng.uniform(3, max(3.0, (high - prompt).bit_length() - 0.01)))
        lengths.append(min(high, max(low, prompt + response)))
    return lengths


def make_items(encoder, lengths: list[int], seed: int = 0) -> tuple[list[ScoringItem], list[list[int]]]:
    """Items whose token count is close to each target, and their token ids (through the encoder)."""
    rng = random.Random(seed)
    items, ids = [], []
    for target in lengths:
        words = rng.choices(WORDS, k=max(1, target))
        # Grow/shrink the response until it tokenises to about the target (a few tokenizer calls).
        prompt = " ".join(rng.choices(WORDS, k=8))
        item = ScoringItem(prompt, " ".join(words))
        row = encoder.token_ids(item)
        while len(row) > target and len(words) > 1:
            words = words[: max(1, int(len(words) * target / len(row)) - 1)]
            item = ScoringItem(prompt, " ".join(words))
            row = encoder.token_ids(item)
        items.append(item)
        ids.append(row)
    return items, ids


def policy_batches(lengths: list[int], limits: BatchLimits) -> list[list[int]]:
    """Item indices per batch as the dynamic batcher's queue forms them with everything queued."""
    loop = asyncio.new_event_loop()
    queue = PendingQueue()
    for index, length in enumerate(lengths):
        queue.push(PendingItem(index, length, 1, float("inf"), float(index), loop.create_future()))
    batches = []
    while len(queue):
        batches.append([item.payload for item in queue.take_batch(0.0, limits, lambda *_: None)])
    loop.close()
    return batches


def layout_figures(runner, ids, batches) -> dict:
    """Real / computed tokens of ``batches`` laid out by ``runner``, and the attention entries
    (per layer and head dimension) they compute beside the causal ones they need."""
    varlen = runner.layout.packed and runner.layout.attention_tokens is None
    works = [runner.prepare([ids[i] for i in batch]).work(varlen=varlen) for batch in batches]
    work = sum(works[1:], works[0])
    return {
        "batches": len(batches),
        "real_tokens": work.real_tokens,
        "computed_tokens": work.computed_tokens,
        "efficiency": work.token_efficiency,
        "attention_entries": work.attention_entries,
        "causal_entries": work.causal_entries,
        "attention_efficiency": work.attention_efficiency,
        "work_efficiency": work.work_efficiency(attention_tokens_of(runner.model)),
    }


def attention_tokens_of(model) -> int:
    """One token's weight work in attention entries, counted on the model (row_plan)."""
    config = model.config
    weights = sum(m.weight.numel() for m in model.base_model.modules() if isinstance(m, torch.nn.Linear))
    return attention_tokens_for(config, weights // config.num_hidden_layers)


def shape_attention_tokens(size: str) -> int:
    """:func:`attention_tokens_of` for a shape of SHAPES, from its dimensions (no model built)."""
    s = SHAPES[size]
    head_dim = s["hidden_size"] // s["num_attention_heads"]
    query, kv = s["num_attention_heads"] * head_dim, s["num_key_value_heads"] * head_dim
    weights = s["hidden_size"] * (2 * query + 2 * kv + 3 * s["intermediate_size"])  # q, o, k, v, gated MLP
    config = argparse.Namespace(
        num_attention_heads=s["num_attention_heads"], hidden_size=s["hidden_size"], head_dim=head_dim
    )
    return attention_tokens_for(config, weights)


def rows_one_tensor_each(rows: list[list[int]], pad_id: int) -> torch.Tensor:
    """The padded layout as built before #30 (one torch.tensor per row): the host-work reference."""
    ids = torch.full((len(rows), max(map(len, rows))), pad_id, dtype=torch.long)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = torch.tensor(row, dtype=torch.long)
    return ids


def host_layout(runner, ids, batches) -> dict:
    """Host-side layout per item (µs), best of 3 passes over every batch, three ways side by side."""
    ways = {
        "per_row_tensors": lambda rows: rows_one_tensor_each(rows, runner.pad_id),
        "padded": lambda rows: layout_rows(rows, packed=False, row_tokens=0, pad_id=runner.pad_id),
        "packed": runner.prepare,
    }
    figures = {}
    for name, build in ways.items():
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for batch in batches:
                build([ids[i] for i in batch])
            best = min(best, time.perf_counter() - started)
        figures[name] = best / sum(map(len, batches)) * 1e6
    return figures


def gpu_mix_layouts(args) -> dict:
    """Real / computed tokens and work of the GPU length mix for the real shapes, on the host.

    Batch formation and row layout are exact host arithmetic (no forward), so
    they are reported on any machine: the dynamic batcher's batches at the
    GPU defaults (64 items, 65,536 tokens), padded, packed under sdpa (rows
    weighed against the shape's weight work per token, :func:`choose_rows`)
    and under flash-attention (varlen: one row). For each: real / computed
    tokens, needed (causal) / computed attention entries, and needed /
    computed forward work (weights and attention together).
    """
    lengths = length_mix(1024, 256, 2048)
    padded = policy_batches(lengths, BatchLimits(64, 65_536, 0))
    packed = policy_batches(lengths, BatchLimits(64, 65_536, 0, packed=True))

    def total(works):
        return sum(works[1:], works[0])

    figures: dict = {"batches": {"padded": len(padded), "packed": len(packed)}}
    padded_total = total([padded_work([lengths[i] for i in b]) for b in padded])
    for size in ("1.5b", "8b"):
        weight = shape_attention_tokens(size)
        for name, attention in (("padded", weight), ("sdpa", weight), ("varlen", None)):
            if name == "padded":
                work = padded_total
            else:
                works = []
                for batch in packed:
                    part = [lengths[i] for i in batch]
                    layout = choose_rows(part, 4096 if attention else 1 << 62, attention)
                    works.append(layout_work(part, layout, varlen=attention is None))
                work = total(works)
            figures[f"{name}_{size}"] = {
                "tokens": work.token_efficiency,
                "attention": work.attention_efficiency,
                "work": work.work_efficiency(weight),
            }
    return figures


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flops(model, ids: list[list[int]]) -> float:
    """Forward FLOPs: 2 x non-embedding parameters per token plus causal attention (2·h·L² per layer)."""
    config = model.config
    embedding = config.vocab_size * config.hidden_size
    params = sum(p.numel() for p in model.parameters()) - embedding
    attention = 2 * config.num_hidden_layers * config.hidden_size * sum(len(r) ** 2 for r in ids)
    return 2.0 * params * sum(map(len, ids)) + attention


def direct(runner, ids, batches, device) -> dict:
    """Every batch back to back through the runner's own layout (prepare + run)."""
    synchronize(device)
    started = time.perf_counter()
    for batch in batches:
        runner.run(runner.prepare([ids[i] for i in batch]))
    synchronize(device)
    seconds = time.perf_counter() - started
    tokens = sum(len(ids[i]) for batch in batches for i in batch)
    items = sum(map(len, batches))
    return {"seconds": seconds, "items_per_s": items / seconds, "tokens_per_s": tokens / seconds}


def started_source(backend, spec, args) -> ModelSource:
    """``ModelSource`` over ``backend`` with its dynamic batcher at the bench's budget, started:
    (source, batcher)."""

    batcher = DynamicBatcher(
        "rm",
        backend.infer,
        max_batch_items=args.max_batch_items,
        max_batch_tokens=args.max_batch_tokens,
        max_wait_ms=args.max_wait_ms,
        max_concurrent_batches=2,
        max_queue_items=100_000,
    )
    batcher.count_packed_tokens(backend.packed)
    source = ModelSource(SourceKey("model", "rm"), spec=spec, backend=backend, batcher=batcher)
    batcher.start()
    return source


async def service(runner, items, args, *, single: bool, triton_url: str | None = None) -> dict:
    """The in-process service over every item once: tokenise, dynamic batcher, then the forward
    on this process's thread (``runner``), or on Triton over gRPC (``triton_url``: the
    gateway's Triton path, without HTTP in front)."""
    if triton_url is None:
        spec = ModelSpec(kind="reward_model", path=str(runner.path))
        backend = LocalBackend("rm", spec)
        backend._runner = runner  # the runner built here (random weights on the device), not loaded again
    else:
        spec = ModelSpec(
            kind="reward_model",
            path=str(runner.path),
            backend="triton",
            triton_url=triton_url,
            triton_model="rm",
        )
        backend = TritonBackend("rm", spec)
        await backend.load()
    source = started_source(backend, spec, args)
    per_request, callers = (1, args.single_callers) if single else (64, args.batch_callers)
    chunks = [items[i : i + per_request] for i in range(0, len(items), per_request)]
    pending = iter(chunks)

    async def caller() -> None:
        for chunk in pending:
            result = await source.compute(chunk, time.monotonic() + 600)
            assert all(isinstance(o, list) for o in result.outcomes), result.outcomes[:3]

    await source.compute(items[:8], time.monotonic() + 600)  # warm the threads
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    seconds = time.perf_counter() - started
    await source.close()
    return {
        "seconds": seconds,
        "items_per_s": len(items) / seconds,
        "callers": callers,
        "per_request": per_request,
    }


async def triton_direct(url: str, ids: list[list[int]], args) -> dict:
    """A client of Triton itself: 64-item requests of token ids, packed as the gateway sends them
    (every sequence end to end, no padding: ``request_tensors``)."""
    import tritonclient.grpc.aio as triton

    client = triton.InferenceServerClient(url)
    chunks = [ids[i : i + 64] for i in range(0, len(ids), 64)]

    async def send(rows: list[list[int]]) -> None:
        inputs, output = request_tensors(rows, packed=True)
        result = await client.infer("rm", inputs, outputs=[triton.InferRequestedOutput(output)])
        assert result.as_numpy(output).size == len(rows)

    pending = iter(chunks)

    async def caller() -> None:
        for rows in pending:
            await send(rows)

    try:
        await send(chunks[0])  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(args.batch_callers)))
        seconds = time.perf_counter() - started
    finally:
        await client.close()
    return {
        "seconds": seconds,
        "items_per_s": len(ids) / seconds,
        "callers": args.batch_callers,
        "per_request": 64,
    }


def start_triton(model, directory: Path, args):
    """Triton (nvidia-pytriton's server) serving ``model``, saved into ``directory`` for it to load."""
    from rewardgate.sources.model.triton.local_server import LocalTritonServer
    from rewardgate.sources.model.triton.repository import TritonModelSettings, write_repository

    model.save_pretrained(directory)  # Triton's python model loads weights from disk
    repository = directory / "repository"
    settings = TritonModelSettings(
        max_batch_size=max(64, args.max_batch_items),
        device="gpu" if args.device.startswith("cuda") else "cpu",
        torch_threads=args.threads or 0,
    )
    write_repository(directory, "rm", repository, settings)
    server = LocalTritonServer(repository).start()
    try:
        return server.wait_ready()
    except Exception:
        server.cleanup()
        raise


def memory_probe(args) -> None:
    """In a process of its own: peak memory of one forward of the probe batch in ``--probe`` mode."""
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as directory:
        model = build_model(Path(directory), args.size, device, dtype_for(device))
        runner = RewardModelRunner(
            directory,
            model=model,
            device=args.device,
            max_length=args.max_tokens + 64,
            pack_row_tokens=args.pack_row_tokens,
        )
    batch = json.loads(Path(args.probe_batch).read_text())
    runner.forward([batch[0][:8]])  # warm-up: allocator, kernels
    rows = layout_rows(
        batch,
        packed=runner.layout.packed if args.probe == "runner" else args.probe == "packed",
        row_tokens=runner.layout.row_tokens,
        pad_id=runner.pad_id,
        attention_tokens=runner.layout.attention_tokens,
    )  # on the host: run_tensors copies it to the device itself
    device_rows = rows.to(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        # Reset the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0), so the
        # peak below is this forward's, not the model build's.
        Path("/proc/self/clear_refs").write_text("5")
        base = _status_bytes("VmRSS")
    with torch.inference_mode():
        if args.probe == "padded_cache":
            runner.model(
                input_ids=device_rows.input_ids, attention_mask=device_rows.attention_mask, use_cache=True
            )
        else:
            runner.run_tensors(rows)
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _status_bytes("VmHWM") - base
    print(json.dumps({"peak_bytes": peak}))


def _status_bytes(field: str) -> int:
    """A ``kB`` field of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def probe_peak(args, size: str, probe: str, batch_ids: list[list[int]]) -> int:
    """Peak memory of one forward of ``batch_ids`` in ``probe`` mode, in a process of its own."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(batch_ids, handle)
    try:
        command = [sys.executable, __file__, "--probe", probe, "--probe-batch", handle.name, "--size", size,
                   "--device", args.device, "--max-tokens", str(args.max_tokens),
                   "--pack-row-tokens", str(args.pack_row_tokens),
                   "--threads", str(args.threads or 0)]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    return json.loads(out.strip().splitlines()[-1])["peak_bytes"]


def memory(args, size: str, batch_ids: list[list[int]]) -> dict:
    figures = {
        probe: probe_peak(args, size, probe, batch_ids) for probe in ("padded_cache", "padded", "packed")
    }
    figures["cache_off_saving"] = 1 - figures["padded"] / figures["padded_cache"]
    figures["rows"], figures["tokens"] = len(batch_ids), sum(map(len, batch_ids))
    return figures


def calibration(args, size: str, runner) -> dict:
    """``max_batch_tokens`` derived from measured memory (rewardgate/sources/model/memory_budget.py).

    CUDA: the service's own load-time calibration (``calibrate_cuda`` on the
    runner: allocator peaks around doubling probe forwards). CPU: the same
    probes (``tokens // max_tokens`` random sequences of ``--max-tokens``
    tokens, laid out by the runner), each in a fresh process measuring its
    peak RSS over the loaded baseline, against ``MemAvailable``; then the same
    ``derive_budget``. Peak RSS counts whatever the process touches (allocator
    caches included), so the CPU figure is an upper bound of the forward's need.
    """
    unit = args.max_tokens
    if args.device.startswith("cuda"):
        budget = calibrate_cuda(
            runner_probe(runner, unit),
            device=runner.device,
            unit=unit,
            fraction=args.memory_fraction,
            least_tokens=unit,
        )
    else:
        probes = []
        for tokens in probe_sizes(unit, args.max_batch_tokens * 4):
            generator = torch.Generator().manual_seed(tokens)
            batch = torch.randint(4, 1000, (max(1, tokens // unit), unit), generator=generator).tolist()
            probes.append(MemoryProbe(tokens, probe_peak(args, size, "runner", batch)))
        available = _meminfo_bytes("MemAvailable")
        budget = derive_budget(
            probes, available_bytes=available, fraction=args.memory_fraction, least_tokens=unit
        )
    return {
        "bytes_per_token": budget.bytes_per_token,
        "fixed_bytes": budget.fixed_bytes,
        "available_bytes": budget.available_bytes,
        "fraction": budget.fraction,
        "max_batch_tokens": budget.max_batch_tokens,
        "probes": [[p.tokens, p.peak_bytes] for p in budget.probes],
        "describe": budget.describe(),
    }


def _meminfo_bytes(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/meminfo has no {field}")


def dtype_for(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def peak_tflops(device: torch.device, given: float | None) -> float | None:
    if given or device.type != "cuda":
        return given
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


def run_size(size: str, args) -> dict:
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as directory:
        model = build_model(Path(directory), size, device, dtype_for(device))
        runner = RewardModelRunner(
            directory,
            model=model,
            device=args.device,
            max_length=args.max_tokens + 64,
            pack_row_tokens=args.pack_row_tokens,
        )
        padded = RewardModelRunner(
            directory, model=model, device=args.device, max_length=args.max_tokens + 64, layout="padded"
        )
        items, ids = make_items(runner.encoder, length_mix(args.items, args.min_tokens, args.max_tokens))
        lengths = [len(r) for r in ids]
        budget = dict(
            max_batch_items=args.max_batch_items, max_batch_tokens=args.max_batch_tokens, max_wait_s=0
        )
        padded_batches = policy_batches(lengths, BatchLimits(**budget))
        packed_batches = policy_batches(lengths, BatchLimits(**budget, packed=runner.layout.packed))
        result: dict = {
            "size": size,
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
            "layout": runner.layout.reason,
            "items": len(items),
            "tokens": {"mean": sum(lengths) / len(lengths), "min": min(lengths), "max": max(lengths)},
            "padded_layout": layout_figures(padded, ids, padded_batches),
            "packed_layout": layout_figures(runner, ids, packed_batches),
        }
        result["host_layout_us_per_item"] = host_layout(runner, ids, packed_batches)
        direct(runner, ids, packed_batches, device)  # warm-up: kernels and allocator for every shape
        direct(padded, ids, padded_batches, device)
        phases = {
            "direct_padded": lambda: direct(padded, ids, padded_batches, device),
            "direct_packed": lambda: direct(runner, ids, packed_batches, device),
            "service_single": lambda: asyncio.run(service(runner, items, args, single=True)),
            "service_64": lambda: asyncio.run(service(runner, items, args, single=False)),
        }
        server = start_triton(model, Path(directory), args) if args.triton else None
        if server is not None:
            url = server.grpc_url
            phases["triton_direct_64"] = lambda: asyncio.run(triton_direct(url, ids, args))
            phases["gateway_triton_single"] = lambda: asyncio.run(
                service(runner, items, args, single=True, triton_url=url)
            )
            phases["gateway_triton_64"] = lambda: asyncio.run(
                service(runner, items, args, single=False, triton_url=url)
            )
        rounds: dict[str, list[dict]] = {name: [] for name in phases}
        try:
            for number in range(args.rounds):  # order rotated each round: the machine drifts during a run
                for name in rotated(list(phases), number):
                    rounds[name].append(phases[name]())
        finally:
            if server is not None:
                server.stop()
                server.cleanup()
        for name, runs in rounds.items():
            result[name] = sorted(runs, key=lambda r: r["items_per_s"])[len(runs) // 2]  # median round
        # Ratios per round (same load on the machine), then their median and range.
        for name in [n for n in rounds if n.startswith(("service", "gateway", "triton"))]:
            per_round = sorted(
                s["items_per_s"] / d["items_per_s"]
                for s, d in zip(rounds[name], rounds["direct_packed"], strict=True)
            )
            result[name]["vs_direct_rounds"] = per_round
        peak = peak_tflops(device, args.peak_tflops)
        work = flops(model, ids)
        for name in ("direct_padded", "direct_packed"):
            result[name]["mfu"] = None if peak is None else work / result[name]["seconds"] / (peak * 1e12)
        for name in [n for n in rounds if n.startswith(("service", "gateway", "triton"))]:
            result[name]["vs_direct"] = result[name]["vs_direct_rounds"][
                len(result[name]["vs_direct_rounds"]) // 2
            ]
        result["packed_speedup_rounds"] = sorted(
            k["items_per_s"] / p["items_per_s"]
            for k, p in zip(rounds["direct_packed"], rounds["direct_padded"], strict=True)
        )
        phases.clear()
        result["calibration"] = calibration(args, size, runner)  # CUDA: on this runner; CPU: own processes
        model = runner = padded = None  # free the device for the memory probes' own processes
    if device.type == "cuda":
        torch.cuda.empty_cache()
    probe_batch = [ids[i] for i in padded_batches[0]]
    result["memory"] = memory(args, size, probe_batch)
    return result


def print_calibration(c: dict) -> None:
    probes = ", ".join(f"{tokens}: {peak / 2**20:.1f}" for tokens, peak in c["probes"])
    print(f"\n| calibration (probe tokens: peak MiB) | {probes} |\n|---|---|")
    print(f"| per token (steepest segment), fixed | {c['bytes_per_token'] / 1024:.1f} KiB, "
          f"{c['fixed_bytes'] / 2**20:.1f} MiB |")  # fmt: skip
    free, tokens = c["available_bytes"] / 2**30, c["max_batch_tokens"]
    print(f"| derived max_batch_tokens at {c['fraction']:.0%} of {free:.1f} GiB free | {tokens} |")


def print_table(results: list[dict]) -> None:
    for r in results:
        tokens = r["tokens"]
        print(f"\n## {r['size']} on {r['device']} ({r['items']} items, tokens mean {tokens['mean']:.0f}, "
              f"{tokens['min']}..{tokens['max']}; {r['layout']})")  # fmt: skip
        print("| figure | padded | packed |\n|---|---:|---:|")
        pl, kl = r["padded_layout"], r["packed_layout"]
        print(f"| batches | {pl['batches']} | {kl['batches']} |")
        print(f"| real / computed tokens | {pl['efficiency']:.3f} | {kl['efficiency']:.3f} |")
        print(f"| causal / computed attention entries | {pl['attention_efficiency']:.3f} | "
              f"{kl['attention_efficiency']:.3f} |")  # fmt: skip
        print(f"| needed / computed forward work | {pl['work_efficiency']:.3f} | "
              f"{kl['work_efficiency']:.3f} |")  # fmt: skip
        dp, dk = r["direct_padded"], r["direct_packed"]
        print(f"| direct forward items/s | {dp['items_per_s']:.1f} | {dk['items_per_s']:.1f} |")
        print(f"| direct forward tokens/s | {dp['tokens_per_s']:.0f} | {dk['tokens_per_s']:.0f} |")
        speedups = r["packed_speedup_rounds"]
        print(f"| packed / padded items/s (per round) | | {', '.join(f'{x:.2f}' for x in speedups)} |")
        if dk["mfu"] is not None:
            print(f"| MFU (dense bf16 peak) | {dp['mfu']:.3f} | {dk['mfu']:.3f} |")
        h = r["host_layout_us_per_item"]
        print(f"| host layout µs/item (before #30: {h['per_row_tensors']:.1f}) | {h['padded']:.1f} | "
              f"{h['packed']:.1f} |")  # fmt: skip
        m = r["memory"]
        print(f"\n| peak memory of one batch ({m['rows']} rows, {m['tokens']} tokens) | MiB |\n|---|---:|")
        for key in ("padded_cache", "padded", "packed"):
            print(f"| {key} | {m[key] / 2**20:.1f} |")
        print(f"| cache off saves | {m['cache_off_saving']:.1%} |")
        print_calibration(r["calibration"])
        print("\n| in-process service | items/s | vs packed direct |\n|---|---:|---:|")
        for key in [k for k in r if k.startswith(("service", "gateway", "triton"))]:
            s = r[key]
            low, high = s["vs_direct_rounds"][0], s["vs_direct_rounds"][-1]
            print(f"| {key}: {s['callers']} callers x {s['per_request']} item(s) | {s['items_per_s']:.1f} | "
                  f"{s['vs_direct']:.2f} ({low:.2f}..{high:.2f}) |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", help="comma-separated of " + ",".join(SHAPES) + " (default by device)")
    parser.add_argument("--items", type=int, help="items in the mix (default: 1024 cuda, 256 cpu)")
    parser.add_argument("--min-tokens", type=int)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--max-batch-items", type=int, default=64)
    parser.add_argument("--max-batch-tokens", type=int)
    parser.add_argument(
        "--pack-row-tokens", type=int, help="packed row length limit (default 4096, as the service)"
    )
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--single-callers", type=int, default=256)
    parser.add_argument("--batch-callers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--triton",
        action="store_true",
        help="also Triton direct and the gateway's Triton path (needs nvidia-pytriton; writes the weights)",
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--memory-fraction",
        type=float,
        default=0.8,
        help="fraction of free memory the derived max_batch_tokens may use (batching.memory_fraction)",
    )
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak (default: by device name)")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--probe-batch", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.min_tokens = args.min_tokens or (256 if cuda else 32)
    args.max_tokens = args.max_tokens or (2048 if cuda else 256)
    args.pack_row_tokens = args.pack_row_tokens or 4096
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.probe:
        memory_probe(args)
        return
    sizes = (args.sizes or ("1.5b,8b" if cuda else "cpu")).split(",")
    args.items = args.items or (1024 if cuda else 256)
    args.max_batch_tokens = args.max_batch_tokens or (65_536 if cuda else 4096)
    results = [run_size(size, args) for size in sizes]
    print_table(results)
    layouts = gpu_mix_layouts(args)
    print("\n## GPU length mix (1,024 items, 256..2,048 tokens), batches and rows computed on the host")
    print("| layout | real / computed tokens | causal / computed attention | needed / computed work |")
    print("|---|---:|---:|---:|")
    for key, value in layouts.items():
        if key != "batches":
            print(f"| {key} | {value['tokens']:.3f} | {value['attention']:.3f} | {value['work']:.3f} |")
    config = {k: v for k, v in vars(args).items() if not k.startswith("probe") and k != "size"}
    print(
        json.dumps(
            {"bench": "gpu_reward_model", "config": config, "results": results, "gpu_mix_layouts": layouts}
        )
    )


if __name__ == "__main__":
    main()
