"""The pure batch-selection policy, without an event loop running."""

import asyncio

import pytest

from rewardgate.sources.model.batching.queue import BatchLimits, PendingItem, PendingQueue, length_bucket

LIMITS = BatchLimits(max_batch_items=8, max_batch_tokens=1000, max_wait_s=0.01)


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def make(loop, length, enqueued_at=0.0, deadline=100.0, rows=1, payload=None):
    return PendingItem(payload or length, length, rows, deadline, enqueued_at, loop.create_future())


def no_drop(item, reason):
    raise AssertionError(f"unexpected drop ({reason})")


def test_length_buckets_group_within_factor_of_two():
    assert length_bucket(5) == length_bucket(7)
    assert length_bucket(8) != length_bucket(7)
    assert length_bucket(0) == length_bucket(1)


def test_batch_prefers_lengths_similar_to_the_oldest_item(loop):
    queue = PendingQueue()
    for t, length in enumerate([10, 200, 11, 210, 12]):
        queue.push(make(loop, length, enqueued_at=t))
    batch = queue.take_batch(now=10, limits=BatchLimits(3, 10_000, 0.01), on_drop=no_drop)
    assert [item.length for item in batch] == [10, 11, 12]
    assert len(queue) == 2


def test_padded_token_budget_bounds_the_batch(loop):
    queue = PendingQueue()
    for length in [100, 100, 100, 100, 400]:
        queue.push(make(loop, length))
    batch = queue.take_batch(now=1, limits=LIMITS, on_drop=no_drop)
    # 4 rows x 100 = 400 fits; adding the 400-token item would cost 5 x 400 = 2000.
    assert [item.length for item in batch] == [100, 100, 100, 100]


def test_packed_budget_counts_real_tokens_not_rows_times_longest(loop):
    queue = PendingQueue()
    for length in [100, 100, 100, 100, 400, 300]:
        queue.push(make(loop, length))
    packed = BatchLimits(max_batch_items=8, max_batch_tokens=1000, max_wait_s=0.01, packed=True)
    batch = queue.take_batch(now=1, limits=packed, on_drop=no_drop)
    # 4 x 100 + 400 = 800 fits (padded it would cost 5 x 400); + 300 = 1100 does not.
    assert [item.length for item in batch] == [100, 100, 100, 100, 400]
    assert len(queue) == 1


def test_pairs_count_two_rows_against_the_budget(loop):
    queue = PendingQueue()
    for _ in range(4):
        queue.push(make(loop, 200, rows=2))
    batch = queue.take_batch(now=1, limits=LIMITS, on_drop=no_drop)
    assert len(batch) == 2  # 4 rows x 200 = 800 <= 1000 < 6 x 200


def test_an_oversized_item_still_runs_alone(loop):
    queue = PendingQueue()
    queue.push(make(loop, 5000))
    assert len(queue.take_batch(now=1, limits=LIMITS, on_drop=no_drop)) == 1


def test_oldest_item_anchors_the_batch_so_nothing_starves(loop):
    queue = PendingQueue()
    queue.push(make(loop, 900, enqueued_at=0))
    for t in range(1, 6):
        queue.push(make(loop, 10, enqueued_at=t))
    batch = queue.take_batch(now=10, limits=LIMITS, on_drop=no_drop)
    assert batch[0].length == 900


def test_flush_conditions(loop):
    queue = PendingQueue()
    assert not queue.is_full(LIMITS) and not queue.waited(0, LIMITS)
    queue.push(make(loop, 10, enqueued_at=0))
    assert not queue.is_full(LIMITS) and not queue.waited(0.001, LIMITS)
    assert queue.waited(0.02, LIMITS)  # waited max_wait
    for _ in range(7):
        queue.push(make(loop, 10, enqueued_at=0))
    assert queue.is_full(LIMITS)  # max items reached
    tokens = PendingQueue()
    tokens.push(make(loop, 1000, enqueued_at=0))
    assert tokens.is_full(LIMITS)  # token budget reached


def test_cancelled_and_expired_items_are_dropped_not_batched(loop):
    queue = PendingQueue()
    cancelled, expired, live = make(loop, 10), make(loop, 10, deadline=0.5), make(loop, 10)
    cancelled.future.cancel()
    for item in (cancelled, expired, live):
        queue.push(item)
    dropped = []
    batch = queue.take_batch(now=1.0, limits=LIMITS, on_drop=lambda i, r: dropped.append((i, r)))
    assert batch == [live]
    assert dropped == [(cancelled, "cancelled"), (expired, "deadline")]
    assert len(queue) == 0 and queue.total_cost == 0
