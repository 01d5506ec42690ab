"""Packed row layout: pure tensor work, no model."""

import random

import pytest

from rewardgate.sources.model.packing import choose_rows, layout_rows, pack, pad, plan_rows


def test_pack_layout_restarts_positions_and_keeps_every_token():
    sequences = [[5] * n for n in (7, 1, 30, 12, 12, 3)]
    rows = layout_rows(sequences, packed=True, row_tokens=32, pad_id=0)
    assert rows.input_ids.shape[1] <= 32
    for index, seq in enumerate(sequences):
        row, start, n = rows.rows[index], rows.starts[index], rows.lengths[index]
        assert rows.input_ids[row, start : start + n].tolist() == seq
        assert rows.position_ids[row, start : start + n].tolist() == list(range(n))
    assert rows.real_tokens == 65
    assert rows.computed_tokens == rows.input_ids.numel() >= 65
    assert rows.attention_mask is None


def test_row_tails_are_padding_that_starts_a_sequence_of_its_own():
    rows = pack([[1, 2, 3], [4, 5], [6]], row_tokens=4, pad_id=9)
    for r in range(rows.input_ids.shape[0]):
        used = sum(n for row, n in zip(rows.rows, rows.lengths, strict=True) if row == r)
        tail = rows.input_ids[r, used:].tolist()
        assert tail == [9] * len(tail)
        assert rows.position_ids[r, used:].tolist() == list(range(len(tail)))


def test_sequences_longer_than_a_row_get_a_row_of_their_own():
    layout = plan_rows([10, 3, 2], row_tokens=4)
    assert [0] in layout and sorted(i for row in layout for i in row) == [0, 1, 2]


def test_padded_layout_is_one_masked_row_per_sequence():
    rows = pad([[1, 2, 3], [4]], pad_id=0)
    assert rows.input_ids.tolist() == [[1, 2, 3], [4, 0, 0]]
    assert rows.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert rows.position_ids is None and not rows.packed


def rl_mix(count=256, seed=0):
    rng = random.Random(seed)
    return [min(2048, 256 + int(2 ** rng.uniform(3, 10.9))) for _ in range(count)]


def efficiency(lengths, layout):
    return sum(lengths) / (len(layout) * max(sum(lengths[i] for i in row) for row in layout))


def test_varlen_attention_packs_into_the_row_limit_nearly_without_waste():
    lengths = rl_mix()
    assert efficiency(lengths, choose_rows(lengths, 1 << 62, None)) > 0.99
    assert efficiency(lengths, choose_rows(lengths, 8192, None)) >= 0.95


def test_masked_attention_weighs_row_length_against_the_hidden_size():
    lengths = [max(1, n // 8) for n in rl_mix()]  # longest 256, far below the row limit
    large = choose_rows(lengths, 8192, attention_tokens=6 * 4096)  # an 8B model: weights dominate
    small = choose_rows(lengths, 8192, attention_tokens=6 * 32)  # a tiny model: attention dominates
    assert efficiency(lengths, large) >= 0.95
    width = lambda layout: max(sum(lengths[i] for i in row) for row in layout)  # noqa: E731
    assert width(small) < width(large)


@pytest.mark.parametrize("bad", [[], [[1], []]])
def test_empty_batches_and_sequences_are_refused(bad):
    with pytest.raises(ValueError):
        pack(bad, row_tokens=8, pad_id=0)
    with pytest.raises(ValueError):
        pad(bad, pad_id=0)
