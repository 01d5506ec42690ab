"""Batch token budgets from measured memory: the derivation, and where it refuses."""

import pytest
import torch

from rewardgate.config.pipeline_file import ModelSpec
from rewardgate.sources.model.memory_budget import (
    MemoryProbe,
    ProbeOutOfMemory,
    calibrate,
    calibrate_cuda,
    derive_budget,
    probe_sizes,
)

# Measured by bench/gpu_reward_model.py's calibration (CPU, the 128-wide 6-layer Llama, fp32,
# packed rows of 256-token sequences, one fresh process per probe: peak RSS over the loaded
# baseline; 2026-12-05, load average ~5). RSS is noisy: the 2,048-token probe sits above the trend.
CPU_PROBES = [
    MemoryProbe(256, 3_035_136),
    MemoryProbe(512, 6_500_352),
    MemoryProbe(1024, 10_657_792),
    MemoryProbe(2048, 27_078_656),
    MemoryProbe(4096, 35_950_592),
    MemoryProbe(8192, 59_420_672),
]
GIB = 2**30


def bound(budget, tokens):
    return budget.fixed_bytes + budget.bytes_per_token * tokens


def test_budget_from_measured_probes_fits_the_fraction_and_covers_every_probe():
    budget = derive_budget(CPU_PROBES, available_bytes=GIB, fraction=0.5, least_tokens=256)
    # The steepest segment (1,024 -> 2,048 tokens) sets the slope: the noisy probe is not averaged away.
    assert budget.bytes_per_token == pytest.approx((27_078_656 - 10_657_792) / 1024)
    assert all(bound(budget, p.tokens) >= p.peak_bytes for p in CPU_PROBES)
    assert bound(budget, budget.max_batch_tokens) <= 0.5 * GIB < bound(budget, budget.max_batch_tokens + 1)
    assert 32_000 < budget.max_batch_tokens < 34_000  # ~16 KiB a token in half a GiB
    doubled = derive_budget(CPU_PROBES, available_bytes=2 * GIB, fraction=0.5, least_tokens=256)
    assert doubled.max_batch_tokens > 1.9 * budget.max_batch_tokens
    assert "max_batch_tokens" in budget.describe()


def test_probe_order_does_not_matter():
    forward = derive_budget(CPU_PROBES, available_bytes=GIB, fraction=0.8, least_tokens=1)
    backward = derive_budget(CPU_PROBES[::-1], available_bytes=GIB, fraction=0.8, least_tokens=1)
    assert forward == backward


@pytest.mark.parametrize(
    ("probes", "message"),
    [
        (CPU_PROBES[:1], "two sizes"),
        ([MemoryProbe(256, 9), MemoryProbe(256, 12)], "two sizes"),
        ([MemoryProbe(256, 6_500_352), MemoryProbe(512, 3_035_136)], "did not grow"),
    ],
)
def test_unusable_measurements_are_refused_not_extrapolated(probes, message):
    with pytest.raises(ValueError, match=message):
        derive_budget(probes, available_bytes=GIB, fraction=0.8, least_tokens=1)


def test_a_budget_below_one_longest_item_is_refused():
    with pytest.raises(ValueError, match="below the 4096 one item may have"):
        derive_budget(CPU_PROBES, available_bytes=64 * 2**20, fraction=0.5, least_tokens=4096)


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_fraction_must_be_a_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        derive_budget(CPU_PROBES, available_bytes=GIB, fraction=fraction, least_tokens=1)


def test_probes_double_from_one_longest_item():
    assert probe_sizes(4096, 65_536) == [4096, 8192, 16_384, 32_768, 65_536]
    assert probe_sizes(256, 100) == [256, 512]  # always two sizes
    assert len(probe_sizes(1, 1 << 30)) == 6


def test_calibration_on_cpu_says_why_it_cannot_measure():
    ran = []
    with pytest.raises(ValueError, match=r"CUDA allocator peaks.*cpu.*max_batch_tokens"):
        calibrate_cuda(ran.append, device=torch.device("cpu"), unit=8, fraction=0.5, least_tokens=8)
    assert ran == []  # no probe forward ran


@pytest.mark.parametrize(
    "spec",
    [
        dict(kind="similarity"),
        dict(kind="reward_model", path="/m", backend="triton", triton_url="h:1", triton_model="m"),
    ],
)
def test_memory_fraction_is_refused_where_nothing_calibrates(spec):
    with pytest.raises(ValueError, match="memory_fraction"):
        ModelSpec(**spec, batching={"memory_fraction": 0.8})
    assert ModelSpec(kind="reward_model", path="/m", batching={"memory_fraction": 0.8})


class MeasuredCurve:
    """A PeakMeter replaying the measured CPU curve above (the CUDA allocator it stands for
    cannot run on this machine): a probe of n tokens peaks where CPU_PROBES put it, and runs
    out of memory from ``oom_from`` tokens on. The probe forwards really are called."""

    def __init__(self, free: int, oom_from: int = 1 << 62) -> None:
        self.free, self.oom_from = free, oom_from
        self.peaks = {p.tokens: p.peak_bytes for p in CPU_PROBES}
        self.ran: list[int] = []

    def free_bytes(self) -> int:
        return self.free

    def peak_of(self, run) -> int:
        run()
        tokens = self.ran[-1]
        if tokens >= self.oom_from:
            raise ProbeOutOfMemory(f"{tokens} tokens")
        return self.peaks[tokens]


def test_probing_stops_before_a_size_projected_past_half_the_target():
    meter = MeasuredCurve(free=100 * 2**20)  # target 80 MiB at 0.8: stop where a probe would pass 40
    budget = calibrate(meter.ran.append, meter, unit=256, fraction=0.8, least_tokens=256)
    assert meter.ran == [256, 512, 1024, 2048]  # 4,096 projects past 40 MiB from the probes so far
    assert [p.tokens for p in budget.probes] == meter.ran
    assert bound(budget, budget.max_batch_tokens) <= 0.8 * 100 * 2**20


def test_an_out_of_memory_probe_ends_probing_and_the_smaller_ones_count():
    meter = MeasuredCurve(free=GIB, oom_from=2048)
    budget = calibrate(meter.ran.append, meter, unit=256, fraction=0.5, least_tokens=256)
    assert meter.ran == [256, 512, 1024, 2048]
    assert [p.tokens for p in budget.probes] == [256, 512, 1024]
    early = MeasuredCurve(free=GIB, oom_from=512)
    with pytest.raises(ValueError, match="two sizes"):  # out of memory at the second probe: no line
        calibrate(early.ran.append, early, unit=256, fraction=0.5, least_tokens=1)
