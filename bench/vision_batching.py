"""A 64-item request of 512x512 images on the tiny VLM reward model: the service's
path (validation, encode, dynamic batcher, forward) against the same model called directly.

Side by side, in one run, on the same 64 items (distinct images drawn in code):

* validate: the request's images decoded and made canonical under the limits
  (rewardgate/core/validation.py), what every request pays before scoring;
* direct: the runner called directly, ``encode_many`` then one ``forward`` of all 64;
* batcher: ``ModelSource.compute`` (the in-process backend: coalesced encoding
  on its thread, the DynamicBatcher with the pipeline file's default batching,
  the forward thread), what the service does for the request after validation;
* triton (``--triton``): the same ``ModelSource.compute`` with ``backend: triton``
  (rewardgate/sources/model/backends/triton_vision.py): the gateway runs the
  processor for the token ids, sends the images' bytes, and a local Triton
  (nvidia-pytriton, CPU, ``--triton-threads`` torch threads) runs the image processor and forward.

The model is rewardgate.sources.model.random_vision (a one-layer LLaVA);
``--image-size`` sets the processor's input (56: 16 image tokens per image;
224: 256). Prints a table, then one JSON object (the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from PIL import Image, ImageDraw

from rewardgate.config.pipeline_file import ModelSpec
from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.model.backends.base import ModelBackend
from rewardgate.sources.model.backends.local import LocalBackend
from rewardgate.sources.model.build import dynamic_batcher
from rewardgate.sources.model.random_vision import build_vision_reward_model
from rewardgate.sources.model.source import ModelSource


def drawn_png(index: int, side: int) -> bytes:
    """A distinct side x side picture: a background and a few shapes placed by ``index``."""
    image = Image.new("RGB", (side, side), ((index * 37) % 256, (index * 91) % 256, 200))
    draw = ImageDraw.Draw(image)
    for k in range(4):
        x, y = (index * 53 + k * 97) % (side - 80), (index * 29 + k * 61) % (side - 80)
        draw.rectangle((x, y, x + 60, y + 40), fill=(k * 60, 255 - k * 50, (index * 13) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def request(count: int, side: int) -> ScoreCall:
    """``count`` items, each a distinct image and a question, as a transport delivers them."""
    items = []
    for index in range(count):
        url = "data:image/png;base64," + base64.b64encode(drawn_png(index, side)).decode()
        image = {"type": "image_url", "image_url": {"url": url}}
        prompt = [{"role": "user", "content": [image, {"type": "text", "text": "What is shown?"}]}]
        items.append(CallItem(None, ScoringItem(prompt, f"Shapes {index}."), None))
    return ScoreCall("vlm_rm", items, CallOptions())


async def main(args: argparse.Namespace) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="vlm-bench-"))
    build_vision_reward_model(directory, image_size=args.image_size)
    call = request(args.items, args.side)
    limits = Limits(4096, 200_000, 30_000, 600_000)
    items = validate_call(call, limits).items
    spec = ModelSpec(kind="vision_reward_model", path=str(directory), max_length=8192)
    backend = LocalBackend("vlm", spec)
    source = model_source(spec, backend)
    await source.start()
    runner = backend.runner
    triton_server, triton_source = None, None
    if args.triton:
        triton_server, triton_source = await start_triton(directory, spec, args.triton_threads)

    def direct() -> list[list[float]]:
        return runner.forward([w.payload for w in runner.encode_many(items)])

    timings: dict[str, list[float]] = {"validate": [], "direct": [], "batcher": []}
    if triton_source is not None:
        timings["triton"] = []
    same = True
    for round_ in range(args.rounds + 1):  # round 0 warms up
        started = time.perf_counter()
        validate_call(call, limits)
        validated = time.perf_counter()
        direct_scores = direct()
        directed = time.perf_counter()
        result = await source.compute(items, time.monotonic() + 600)
        batched = time.perf_counter()
        scored = [result.outcomes]
        if triton_source is not None:
            scored.append((await triton_source.compute(items, time.monotonic() + 600)).outcomes)
        served = time.perf_counter()
        same = same and all(agree(direct_scores, outcomes) for outcomes in scored)
        if round_:
            timings["validate"].append(validated - started)
            timings["direct"].append(directed - validated)
            timings["batcher"].append(batched - directed)
            if triton_source is not None:
                timings["triton"].append(served - batched)
    await source.close()
    if triton_source is not None:
        await triton_source.close()
        triton_server.cleanup()
    median = {name: statistics.median(values) for name, values in timings.items()}
    tokens = sum(w.length for w in runner.encode_many(items[:1])) if items else 0
    return report(args, median, tokens, same)


def agree(expected: list[list[float]], outcomes: list) -> bool:
    """Every score of ``outcomes`` within 1e-4 of the direct call's."""
    return all(
        abs(a - b) < 1e-4
        for row, got in zip(expected, outcomes, strict=True)
        for a, b in zip(row, got, strict=True)
    )


def report(args: argparse.Namespace, median: dict[str, float], tokens: int, same: bool) -> dict:
    """Print the table; the figures as one dict (each path's median seconds, items/s, ratio to direct)."""
    figures = {
        "items": args.items,
        "side": args.side,
        "image_size": args.image_size,
        "tokens_per_item": tokens,
        "rounds": args.rounds,
        "same_scores": same,
    }
    for name, seconds in median.items():
        figures[f"{name}_s"] = seconds
        if name != "validate":
            figures[f"{name}_items_per_s"] = args.items / seconds
        if name not in ("validate", "direct"):
            figures[f"{name}_over_direct_time"] = seconds / median["direct"]
    print(f"{'path':<10}{'median s':>10}{'items/s':>10}")
    for name, seconds in median.items():
        print(f"{name:<10}{seconds:>10.3f}{args.items / seconds:>10.1f}")
    print(f"batcher / direct time: {figures['batcher_over_direct_time']:.2f}  same scores: {same}")
    if "triton" in median:
        print(f"triton / direct time: {figures['triton_over_direct_time']:.2f}")
    return figures


def model_source(spec: ModelSpec, backend: ModelBackend) -> ModelSource:
    """The backend behind the batcher the service builds for it (sources/model/build.py)."""
    batcher = dynamic_batcher("vlm", spec, backend, SimpleNamespace(overload_retry_after_s=1.0), Metrics())
    return ModelSource(SourceKey("model", "vlm"), spec=spec, backend=backend, batcher=batcher)


async def start_triton(directory: Path, spec: ModelSpec, threads: int):
    """A local Triton serving the model (rewardgate triton-repo --kind vision_reward_model), and the
    model source of a ``backend: triton`` spec pointing at it."""
    from rewardgate.sources.model.backends.triton_vision import VisionTritonBackend
    from rewardgate.sources.model.triton.local_server import LocalTritonServer
    from rewardgate.sources.model.triton.repository import TritonModelSettings
    from rewardgate.sources.model.triton.vision_repository import write_repository

    repository = directory.parent / f"{directory.name}-triton"
    write_repository(
        directory, "vlm", repository, TritonModelSettings(torch_threads=threads, dtype="float32")
    )
    server = await asyncio.to_thread(lambda: LocalTritonServer(repository).start().wait_ready())
    remote = spec.model_copy(
        update={"backend": "triton", "triton_url": server.grpc_url, "triton_model": "vlm"}
    )
    source = model_source(remote, VisionTritonBackend("vlm", remote))
    await source.start()
    return server, source


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--side", type=int, default=512, help="image width and height in pixels")
    parser.add_argument("--image-size", type=int, default=56, help="the processor's input side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--triton", action="store_true", help="also time the model on a local Triton (CPU)")
    parser.add_argument(
        "--triton-threads", type=int, default=1, help="torch threads of the Triton model (0: torch's)"
    )
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
