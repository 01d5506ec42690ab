"""padding_chunks: CPU sub-batches of similar lengths (rewardgate/sources/likelihood/logprobs.py)."""

from hypothesis import given
from hypothesis import strategies as st

from rewardgate.sources.likelihood.logprobs import padding_chunks


def test_uneven_rows_are_split_and_even_ones_kept_together():
    assert padding_chunks([100, 90, 80, 50, 45, 10, 9, 8, 1], 0.25) == [[0, 1, 2, 3], [4], [5, 6, 7], [8]]
    assert padding_chunks([7, 7, 7], 0.25) == [[0, 1, 2]]


@given(st.lists(st.integers(1, 500), min_size=1, max_size=64), st.sampled_from([0.0, 0.25, 1.0]))
def test_every_row_once_and_padding_within_the_bound(lengths, max_padding):
    chunks = padding_chunks(lengths, max_padding)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(lengths)))
    for chunk in chunks:
        real = sum(lengths[i] for i in chunk)
        assert len(chunk) * max(lengths[i] for i in chunk) <= (1 + max_padding) * real + 1e-9
