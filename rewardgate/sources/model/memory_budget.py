"""Batch token budgets from measured memory (``batching.memory_fraction``).

A guessed ``max_batch_tokens`` either leaves most of a GPU idle or runs out
of memory on the first long batch. Calibration measures instead: probe
forwards of increasing size, laid out exactly as the runner batches, each
with its peak memory over the loaded baseline; a line through those peaks
(:func:`derive_budget`) says how many tokens fit in a fraction of the memory
that was free after loading.

What is measured (docs/configuration.md, ``memory_fraction``):

* CUDA: ``torch.cuda.max_memory_allocated`` around each probe, after
  ``reset_peak_memory_stats``: every tensor the forward allocates
  (activations, attention scores, masks), exact and free of other
  processes. The caching allocator's fragmentation on top is what the
  fraction leaves room for.
* CPU: nothing at load. torch's CPU allocator keeps no peak statistics, and
  ``tracemalloc`` sees Python objects, not tensor storage; the process's peak
  RSS is shared with every other thread of the service. The load refuses the
  setting on CPU with that reason. ``bench/gpu_reward_model.py`` measures
  CPU peaks honestly in a fresh process per probe (peak RSS over the loaded
  baseline) and feeds them to the same :func:`derive_budget`.

The derivation is pure arithmetic, unit-tested with measured inputs.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

MAX_PROBES = 6


@dataclass(frozen=True, slots=True)
class MemoryProbe:
    """One probe forward: ``tokens`` as the batcher counts them, ``peak_bytes`` over the baseline."""

    tokens: int
    peak_bytes: int


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    """A derived budget and the line it came from.

    ``peak(tokens) <= fixed_bytes + bytes_per_token x tokens`` holds at every
    probe; ``max_batch_tokens`` is the largest token count whose bound stays
    within ``fraction x available_bytes``.
    """

    bytes_per_token: float
    fixed_bytes: float
    available_bytes: int
    fraction: float
    max_batch_tokens: int
    probes: tuple[MemoryProbe, ...]

    def describe(self) -> str:
        return (
            f"{self.bytes_per_token / 1024:.1f} KiB per token (+{self.fixed_bytes / 2**20:.0f} MiB), "
            f"{self.fraction:.0%} of {self.available_bytes / 2**30:.1f} GiB free -> "
            f"max_batch_tokens {self.max_batch_tokens} (probes: "
            + ", ".join(f"{p.tokens} tok {p.peak_bytes / 2**20:.0f} MiB" for p in self.probes)
            + ")"
        )


def derive_budget(
    probes: Sequence[MemoryProbe], *, available_bytes: int, fraction: float, least_tokens: int
) -> MemoryBudget:
    """The token budget that fits ``fraction`` of ``available_bytes``.

    The bound is deliberately pessimistic: its slope is the steepest between
    consecutive probes (attention's share per token grows with row width, so
    the last segment is usually the steepest), and its intercept lifts the
    line above every probe. Extrapolating past the largest probe keeps that
    slope.

    Raises:
        ValueError: fewer than two probes of different sizes; peaks that do
            not grow with tokens (nothing to extrapolate from: a broken
            measurement, not a free lunch); or a budget below
            ``least_tokens`` (the longest single item would not fit).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"memory fraction {fraction} must be in (0, 1]")
    ordered = sorted(probes, key=lambda p: p.tokens)
    if len({p.tokens for p in ordered}) < 2:
        raise ValueError("calibration needs probes of at least two sizes")
    slopes = [
        (b.peak_bytes - a.peak_bytes) / (b.tokens - a.tokens)
        for a, b in itertools.pairwise(ordered)
        if b.tokens > a.tokens
    ]
    per_token = max(slopes)
    if per_token <= 0:
        raise ValueError(
            "peak memory did not grow with the probe size "
            + ", ".join(f"{p.tokens}: {p.peak_bytes}" for p in ordered)
        )
    # Never below zero: a negative intercept (noise at small probes) would lend the budget memory.
    fixed = max(0.0, *(p.peak_bytes - per_token * p.tokens for p in ordered))
    budget = int((fraction * available_bytes - fixed) // per_token)
    result = MemoryBudget(per_token, fixed, available_bytes, fraction, budget, tuple(ordered))
    if budget < least_tokens:
        raise ValueError(
            f"batching.memory_fraction {fraction} fits {max(budget, 0)} tokens, below the "
            f"{least_tokens} one item may have: {result.describe()}"
        )
    return result


def probe_sizes(unit: int, ceiling: int) -> list[int]:
    """Probe token counts: ``unit`` (one longest item) doubling up to ``ceiling``, at least two."""
    sizes = [unit]
    while len(sizes) < MAX_PROBES and sizes[-1] * 2 <= max(ceiling, unit * 2):
        sizes.append(sizes[-1] * 2)
    return sizes


class ProbeOutOfMemory(Exception):
    """A probe forward ran out of device memory (the probes before it still count)."""


class PeakMeter(Protocol):
    """Where probes are measured: the memory free to batches, and one call's peak over its start."""

    def free_bytes(self) -> int: ...

    def peak_of(self, run: Callable[[], None]) -> int:
        """Peak bytes ``run`` allocated over what was allocated before it.

        Raises:
            ProbeOutOfMemory: ``run`` ran out of memory.
        """
        ...


class CudaPeakMeter:
    """:class:`PeakMeter` of one CUDA device: ``mem_get_info`` and ``max_memory_allocated``."""

    def __init__(self, device) -> None:
        import torch

        self._torch, self._device = torch, torch.device(device)

    def free_bytes(self) -> int:
        self._torch.cuda.synchronize(self._device)
        self._torch.cuda.empty_cache()
        return self._torch.cuda.mem_get_info(self._device)[0]

    def peak_of(self, run: Callable[[], None]) -> int:
        cuda = self._torch.cuda
        cuda.synchronize(self._device)
        cuda.reset_peak_memory_stats(self._device)
        base = cuda.memory_allocated(self._device)
        try:
            run()
            cuda.synchronize(self._device)
        except cuda.OutOfMemoryError as exc:
            cuda.empty_cache()
            raise ProbeOutOfMemory(str(exc)) from None
        return cuda.max_memory_allocated(self._device) - base


def calibrate_cuda(
    run_tokens: Callable[[int], None], *, device, unit: int, fraction: float, least_tokens: int
) -> MemoryBudget:
    """:func:`calibrate` on CUDA ``device``.

    Raises:
        ValueError: not a CUDA device (with why CPU is not measured), or :func:`calibrate`'s reasons.
    """
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        raise ValueError(
            f"batching.memory_fraction measures CUDA allocator peaks and this model runs on "
            f"{device.type}: torch keeps no peak statistics for CPU tensors (tracemalloc sees Python "
            "objects, peak RSS is the whole process's). Set max_batch_tokens instead; "
            "bench/gpu_reward_model.py --device cpu measures CPU peaks in a process of its own"
        )
    budget = calibrate(
        run_tokens, CudaPeakMeter(device), unit=unit, fraction=fraction, least_tokens=least_tokens
    )
    torch.cuda.empty_cache()
    return budget


def calibrate(
    run_tokens: Callable[[int], None], meter: PeakMeter, *, unit: int, fraction: float, least_tokens: int
) -> MemoryBudget:
    """Measure ``run_tokens(n)`` (one forward of ``n`` tokens laid out as the runner batches)
    at doubling sizes with ``meter`` and derive the budget.

    Probing stops before a size whose projected peak (from the probes so far)
    would pass half the target, and at the first out-of-memory probe (the
    probes before it still count), so calibration itself does not run the
    device out of memory.

    Raises:
        ValueError: :func:`derive_budget`'s reasons.
    """
    free = meter.free_bytes()
    target = fraction * free
    probes: list[MemoryProbe] = []
    for tokens in probe_sizes(unit, 1 << 30):
        if len(probes) >= 2 and _projected(probes, tokens, free) > target / 2:
            break
        try:
            peak = meter.peak_of(lambda tokens=tokens: run_tokens(tokens))
        except ProbeOutOfMemory:
            log.warning("memory calibration: %d tokens ran out of memory; using the smaller probes", tokens)
            break
        probes.append(MemoryProbe(tokens, peak))
    return derive_budget(probes, available_bytes=free, fraction=fraction, least_tokens=least_tokens)


def _projected(probes: list[MemoryProbe], tokens: int, free: int) -> float:
    """Peak bytes the probes so far project for ``tokens`` (0 when they project nothing yet:
    the final derivation says why)."""
    try:
        line = derive_budget(probes, available_bytes=free, fraction=1.0, least_tokens=0)
    except ValueError:
        return 0.0
    return line.fixed_bytes + line.bytes_per_token * tokens


def runner_probe(runner, unit: int) -> Callable[[int], None]:
    """``run_tokens`` for :func:`calibrate_cuda` on a reward or process reward model runner:
    ``tokens // unit`` random sequences of ``unit`` tokens (the longest an item may be, the
    widest attention per token), no pad ids, through the runner's own ``prepare`` and ``run``."""
    import torch

    vocab = runner.model.config.get_text_config().vocab_size

    def run_tokens(tokens: int) -> None:
        generator = torch.Generator().manual_seed(tokens)
        ids = torch.randint(0, max(vocab - 1, 1), (max(1, tokens // unit), unit), generator=generator)
        ids += (ids >= runner.pad_id).long()  # never the pad id: every token is real
        runner.run(runner.prepare([runner.probe_payload(row) for row in ids.tolist()]))

    return run_tokens
