"""Padding-free batches on tiny random models of several architectures.

Every check compares a packed batch with the same model scoring each item
alone in a padded row of its own (the reference the issue states): equal
within fp32 tolerance, whatever the neighbours. An architecture whose
attention ignores packed position ids (OPT) must fall back to padded batches.
"""

import random
import time

import pytest
import torch

from rewardgate.items import ScoringItem
from rewardgate.sources.base import SourceKey
from rewardgate.sources.model.runners.process_reward_model import ProcessRewardModelRunner
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from tests.support.tiny_models import CORPUS, build_process_reward_model, build_reward_model

pytestmark = pytest.mark.slow

PACKING = ["llama", "qwen2", "gemma", "gemma2"]


def close(got, expected) -> None:
    """Equal within fp32 tolerance (sums in another order differ in the last bits)."""
    torch.testing.assert_close(torch.tensor(got), torch.tensor(expected), atol=1e-5, rtol=1e-5)


def mixed_items(count: int, seed: int = 0) -> list[ScoringItem]:
    """Items of very different lengths (1 to ~40 tokens of response)."""
    words = " ".join(CORPUS).split()
    rng = random.Random(seed)
    return [
        ScoringItem(rng.choice(words), " ".join(rng.choices(words, k=rng.choice([0, 1, 3, 8, 15]))))
        for _ in range(count)
    ]


@pytest.fixture(scope="module", params=PACKING)
def rm_dir(request, tmp_path_factory):
    return build_reward_model(
        tmp_path_factory.mktemp(request.param), num_labels=2, architecture=request.param
    )


def test_packed_reward_scores_equal_one_at_a_time(rm_dir):
    packed = RewardModelRunner(rm_dir, max_length=128, pack_row_tokens=128)
    padded = RewardModelRunner(rm_dir, max_length=128, layout="padded")
    assert packed.layout.packed, packed.layout.reason
    assert not padded.layout.packed
    batch = [packed.encode(item).payload for item in mixed_items(24)]
    rows = packed.prepare(batch)
    assert rows.packed and rows.input_ids.shape[0] > 1  # several packed rows, not one
    assert rows.computed_tokens < padded.prepare(batch).computed_tokens
    scores = packed.forward(batch)
    alone = [padded.forward([ids])[0] for ids in batch]
    close(scores, alone)
    assert len({round(row[0], 4) for row in scores}) > len(batch) // 2  # not constant


def test_packed_rows_isolate_neighbours_whatever_their_content(rm_dir):
    """A sequence's score is the same next to any neighbour (same length, other tokens)."""
    runner = RewardModelRunner(rm_dir, max_length=128)
    target = runner.encode(ScoringItem("What is two plus two?", "The answer is four.")).payload
    neighbours = [runner.encode(item).payload for item in mixed_items(6, seed=3)]
    first = runner.forward([*neighbours, target])[-1]
    flipped = [list(reversed(ids)) for ids in neighbours]
    assert runner.forward([*flipped, target])[-1] == pytest.approx(first, abs=1e-5)


def test_triton_entry_point_packs_too(rm_dir):
    """``forward_padded`` (what the Triton model calls) drops the caller's padding and packs."""
    runner = RewardModelRunner(rm_dir, max_length=128)
    batch = [runner.encode(item).payload for item in mixed_items(5, seed=1)]
    ids = torch.full((len(batch), max(map(len, batch))), 7)  # padded with a real token id on purpose
    for row, seq in enumerate(batch):
        ids[row, : len(seq)] = torch.tensor(seq)
    lengths = torch.tensor([[len(s)] for s in batch])
    got = runner.forward_padded(ids, lengths)
    close(got.tolist(), runner.forward(batch))


def test_sequences_ending_in_pad_ids_pool_where_a_padded_row_does(rm_dir):
    """A template whose last token is also the pad token (eos as pad) must score as padded does."""
    packed = RewardModelRunner(rm_dir, max_length=128)
    padded = RewardModelRunner(rm_dir, max_length=128, layout="padded")
    pad = packed.pad_id
    batch = [packed.encode(item).payload for item in mixed_items(6, seed=2)]
    batch = [ids + [pad] * k for k, ids in enumerate(batch)]  # 0..5 trailing pad ids
    close(packed.forward(batch), [padded.forward([ids])[0] for ids in batch])


def test_trailing_pad_token_text_cannot_move_a_score(tmp_path):
    """Hack: pad-token text appended to a response (no chat template: it ends the input)."""
    path = build_reward_model(tmp_path, architecture="llama", chat_template=False)
    runner = RewardModelRunner(path, max_length=128)
    assert runner.layout.packed
    plain = ScoringItem("What is two plus two? ", "The answer is four.")
    padded_text = ScoringItem("What is two plus two? ", "The answer is four.<pad><pad><pad>")
    ids, hacked = runner.encode(plain).payload, runner.encode(padded_text).payload
    assert hacked[-3:] == [runner.pad_id] * 3  # the text really became pad ids
    neighbours = [runner.encode(item).payload for item in mixed_items(4, seed=5)]
    scores = runner.forward([*neighbours, hacked, ids])
    close([scores[-2]], [scores[-1]])


@pytest.mark.parametrize("architecture", ["llama", "qwen2", "gemma2"])
def test_packed_process_reward_scores_equal_one_at_a_time(architecture, tmp_path):
    path = build_process_reward_model(tmp_path, architecture=architecture)
    packed = ProcessRewardModelRunner(path, step_separator="\n\n", max_length=128)
    padded = ProcessRewardModelRunner(path, step_separator="\n\n", max_length=128, layout="padded")
    assert packed.layout.packed, packed.layout.reason
    items = [
        ScoringItem(
            f"question {i}", "", steps=[" ".join(CORPUS[j % 4].split()[: 2 + j]) for j in range(1 + i % 4)]
        )
        for i in range(9)
    ]
    batch = [work.payload for work in packed.encode_many(items)]
    scores = packed.forward(batch)
    for row, payload in zip(scores, batch, strict=True):
        assert row == pytest.approx(padded.forward([payload])[0], abs=1e-5)
        assert len(row) == len(payload[1])


def test_attention_that_ignores_packed_positions_falls_back_to_padded(tmp_path):
    path = build_reward_model(tmp_path, num_labels=1, architecture="opt")
    runner = RewardModelRunner(path, max_length=128)
    assert not runner.layout.packed
    assert "not isolated" in runner.layout.reason
    batch = [runner.encode(item).payload for item in mixed_items(6)]
    assert not runner.prepare(batch).packed
    scores = runner.forward(batch)
    close(scores, [runner.forward([ids])[0] for ids in batch])
    with pytest.raises(ValueError, match="layout=packed is not possible"):
        RewardModelRunner(path, max_length=128, layout="packed")


@pytest.mark.parametrize("layout", ["packed", "padded"])
def test_scoring_forwards_keep_no_kv_cache(layout, tmp_path):
    path = build_reward_model(tmp_path, architecture="llama")
    runner = RewardModelRunner(path, max_length=128, layout=layout)
    seen: list[object] = []
    runner.model.base_model.register_forward_hook(
        lambda module, args, kwargs, output: seen.append((kwargs.get("use_cache"), output.past_key_values)),
        with_kwargs=True,
    )
    runner.forward([runner.encode(item).payload for item in mixed_items(3)])
    assert seen == [(False, None)]


class RecordingObserver:
    """The batcher's observer interface, recording what each batch computed."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []

    def batch_started(self, size: int, padded_tokens: int, queue_waits_s: list[float]) -> None:
        self.batches.append((size, padded_tokens))

    def batch_finished(self, seconds: float, ok: bool) -> None:
        pass

    def item_dropped(self, reason: str) -> None:
        pass


@pytest.mark.parametrize("layout", ["auto", "padded"])
async def test_the_in_process_source_budgets_packed_batches_by_real_tokens(layout, tmp_path):
    from rewardgate.config.pipeline_file import ModelSpec
    from rewardgate.sources.model.backends.local import LocalBackend
    from rewardgate.sources.model.batching.batcher import DynamicBatcher
    from rewardgate.sources.model.source import ModelSource

    path = build_reward_model(tmp_path, num_labels=1)
    spec = ModelSpec(kind="reward_model", path=str(path), max_length=128, batching={"layout": layout})
    backend = LocalBackend("rm", spec)
    observer = RecordingObserver()
    batcher = DynamicBatcher("rm", backend.infer, max_batch_items=64, max_batch_tokens=100_000,
                             max_wait_ms=50, observer=observer)  # fmt: skip
    source = ModelSource(SourceKey("model", "rm"), spec=spec, backend=backend, batcher=batcher)
    await source.start()
    try:
        items = mixed_items(12)
        result = await source.compute(items, deadline=time.monotonic() + 60)
        lengths = [len(backend.runner.encode(item).payload) for item in items]
        alone = [backend.runner.forward([backend.runner.encode(item).payload])[0] for item in items]
    finally:
        await source.close()
    close(result.outcomes, alone)
    assert backend.packed is (layout == "auto")
    expected = sum(lengths) if layout == "auto" else len(lengths) * max(lengths)
    assert observer.batches == [(12, expected)]


@pytest.mark.parametrize("architecture", ["llama", "opt"])
def test_half_precision_probe_keeps_packing_where_isolated_and_pads_where_not(architecture, tmp_path):
    path = build_reward_model(tmp_path, architecture=architecture)
    runner = RewardModelRunner(path, max_length=128, dtype="bfloat16", device="cpu")
    assert runner.layout.packed is (architecture == "llama"), runner.layout.reason
    padded = RewardModelRunner(path, max_length=128, dtype="bfloat16", device="cpu", layout="padded")
    batch = [runner.encode(item).payload for item in mixed_items(8)]
    got = torch.tensor(runner.forward(batch))
    alone = torch.tensor([padded.forward([ids])[0] for ids in batch])
    torch.testing.assert_close(got, alone, atol=0.05 * float(alone.abs().max()), rtol=0)


async def test_memory_calibration_on_cpu_fails_the_load_with_its_reason(tmp_path):
    from rewardgate.config.pipeline_file import ModelSpec
    from rewardgate.sources.model.backends.local import LocalBackend

    path = build_reward_model(tmp_path, num_labels=1)
    spec = ModelSpec(
        kind="reward_model", path=str(path), device="cpu", max_length=128, batching={"memory_fraction": 0.5}
    )
    backend = LocalBackend("rm", spec)
    with pytest.raises(ValueError, match="CUDA allocator peaks"):
        await backend.load()
    assert not backend.is_ready() and backend.measured_max_batch_tokens is None
    await backend.close()
