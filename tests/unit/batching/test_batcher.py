"""DynamicBatcher behaviour, driven by events (the backend blocks until told)."""

import asyncio

import pytest

from rewardgate.errors import BackendError, DeadlineExceeded, Overloaded, ServiceNotReady
from rewardgate.sources.model.batching.batcher import DynamicBatcher, WorkItem

FAR = 10**9  # a deadline that never passes


class GatedBackend:
    """Records each batch and blocks until the test releases it."""

    def __init__(self, result=lambda payloads: [p * 10 for p in payloads]):
        self.batches: list[list] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.running = 0
        self.max_running = 0
        self._result = result

    async def __call__(self, payloads, deadline):
        self.batches.append(list(payloads))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.started.set()
        try:
            await self.release.wait()
            return self._result(payloads)
        finally:
            self.running -= 1


def batcher_for(backend, **overrides):
    options = dict(
        max_batch_items=4,
        max_batch_tokens=10_000,
        max_wait_ms=60_000,  # long: flushes in these tests come from size or budget
        max_concurrent_batches=1,
        max_queue_items=100,
    )
    options.update(overrides)
    batcher = DynamicBatcher("test", backend, **options)
    batcher.start()
    return batcher


def work(*payloads, length=10):
    return [WorkItem(payload=p, length=length) for p in payloads]


async def results_of(futures):
    return [result for result, _timing in await asyncio.wait_for(asyncio.gather(*futures), 10)]


async def test_batcher_flushes_when_max_items_reached():
    backend = GatedBackend()
    batcher = batcher_for(backend)
    futures = batcher.enqueue(work(1, 2, 3, 4), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    backend.release.set()
    assert await results_of(futures) == [10, 20, 30, 40]
    assert backend.batches == [[1, 2, 3, 4]]
    await batcher.close()


async def test_batcher_flushes_when_token_budget_full():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=100, max_batch_tokens=300)
    futures = batcher.enqueue(work(1, 2, 3, length=100), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    backend.release.set()
    assert await results_of(futures) == [10, 20, 30]
    await batcher.close()


async def test_a_budget_measured_at_load_replaces_the_configured_one():
    backend = GatedBackend()
    backend.release.set()
    batcher = DynamicBatcher("test", backend, max_batch_items=100, max_batch_tokens=10_000, max_wait_ms=0)
    batcher.set_max_batch_tokens(200)  # what ModelSource.start does with a calibrated budget
    batcher.start()
    assert await results_of(batcher.enqueue(work(1, 2, 3, length=100), FAR)) == [10, 20, 30]
    assert sorted(map(len, backend.batches)) == [1, 2]  # 300 tokens do not fit one batch of 200
    with pytest.raises(ValueError):
        batcher.set_max_batch_tokens(0)
    await batcher.close()


async def test_batcher_flushes_a_partial_batch_after_max_wait():
    backend = GatedBackend()
    backend.release.set()
    batcher = batcher_for(backend, max_wait_ms=1)
    assert await results_of(batcher.enqueue(work(7), FAR)) == [70]
    await batcher.close()


async def test_batcher_collects_items_across_callers_while_backend_is_busy():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=8, max_wait_ms=0)
    first = batcher.enqueue(work(0), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    later = [batcher.enqueue(work(i), FAR)[0] for i in range(1, 7)]  # six separate callers
    backend.release.set()
    await results_of(first + later)
    assert backend.batches == [[0], [1, 2, 3, 4, 5, 6]]
    await batcher.close()


async def test_batcher_caps_batches_in_flight():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=1, max_concurrent_batches=2)
    futures = batcher.enqueue(work(1, 2, 3, 4, 5), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    for _ in range(5):
        await asyncio.sleep(0)  # let the collector try to start more
    assert backend.running == 2
    backend.release.set()
    await results_of(futures)
    assert backend.max_running == 2
    await batcher.close()


async def test_extra_slots_carry_full_batches_while_a_partial_one_waits_for_an_idle_backend():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=3, max_wait_ms=1, max_concurrent_batches=2)
    first = batcher.enqueue(work(0), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    waiting = [batcher.enqueue(work(i), FAR)[0] for i in (1, 2)]  # two single-item callers
    await asyncio.sleep(0.05)  # far past max_wait: still held, growing, behind the running batch
    assert backend.batches == [[0]] and batcher.queued == 2
    full = batcher.enqueue(work(3, 4, 5), FAR)  # a whole batch takes the second slot at once
    for _ in range(5):
        await asyncio.sleep(0)
    assert backend.running == 2 and backend.batches[1] == [1, 2, 3]
    backend.release.set()
    await results_of(first + waiting + full)
    assert backend.batches == [[0], [1, 2, 3], [4, 5]]  # the rest went once the backend was idle
    await batcher.close()


async def test_partial_batches_overlap_when_asked():
    backend = GatedBackend()
    batcher = batcher_for(
        backend, max_batch_items=3, max_wait_ms=1, max_concurrent_batches=2, overlap_partial_batches=True
    )
    first = batcher.enqueue(work(0), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    second = batcher.enqueue(work(1), FAR)
    for _ in range(100):  # max_wait is 1 ms: the partial batch goes to the second slot
        if backend.running == 2:
            break
        await asyncio.sleep(0.01)
    assert backend.running == 2 and backend.batches == [[0], [1]]
    backend.release.set()
    await results_of(first + second)
    await batcher.close()


async def test_full_queue_refuses_the_whole_group_with_overloaded():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_queue_items=3, max_batch_items=100)
    kept = batcher.enqueue(work(1, 2), FAR)
    with pytest.raises(Overloaded) as refused:
        batcher.enqueue(work(3, 4), FAR)
    assert refused.value.retryable and refused.value.retry_after_s
    assert batcher.queued == 2  # nothing of the refused group was queued
    backend.release.set()
    await batcher.close()
    for future in kept:
        assert future.done()


async def test_cancelled_items_are_dropped_before_running():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=2)
    blocker = batcher.enqueue(work(0, 0), FAR)  # occupies the only slot
    await asyncio.wait_for(backend.started.wait(), 10)
    cancelled, kept = batcher.enqueue(work(1, 2), FAR)
    cancelled.cancel()
    backend.release.set()
    assert await results_of([*blocker, kept]) == [0, 0, 20]
    assert [1] not in backend.batches and all(1 not in b for b in backend.batches)
    await batcher.close()


async def test_items_past_their_deadline_fail_without_running():
    now = [0.0]
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=2, clock=lambda: now[0])
    blocker = batcher.enqueue(work(0, 0), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    (expiring,) = batcher.enqueue(work(5), deadline=1.0)
    (fresh,) = batcher.enqueue(work(6), FAR)
    now[0] = 2.0
    backend.release.set()
    with pytest.raises(DeadlineExceeded):
        await asyncio.wait_for(expiring, 10)
    assert await results_of([*blocker, fresh]) == [0, 0, 60]
    assert all(5 not in b for b in backend.batches)
    await batcher.close()


async def test_wrong_result_count_fails_every_item():
    backend = GatedBackend(result=lambda payloads: payloads[:-1])
    backend.release.set()
    batcher = batcher_for(backend, max_batch_items=3)
    futures = batcher.enqueue(work(1, 2, 3), FAR)
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(o, BackendError) for o in outcomes)
    assert "2 results for 3 items" in str(outcomes[0])
    await batcher.close()


async def test_backend_exception_fans_out_to_the_whole_batch():
    def explode(payloads):
        raise RuntimeError("CUDA error: device-side assert")

    backend = GatedBackend(result=explode)
    backend.release.set()
    batcher = batcher_for(backend, max_batch_items=2)
    outcomes = await asyncio.gather(*batcher.enqueue(work(1, 2), FAR), return_exceptions=True)
    assert [type(o) for o in outcomes] == [BackendError, BackendError]
    # The batcher survives and serves the next batch.
    backend._result = lambda payloads: payloads
    assert await results_of(batcher.enqueue(work(3, 4), FAR)) == [3, 4]
    await batcher.close()


async def test_close_fails_queued_items_and_refuses_new_ones():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=1)
    running = batcher.enqueue(work(1), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    queued = batcher.enqueue(work(2), FAR)
    close = asyncio.create_task(batcher.close(grace_s=10))
    await asyncio.sleep(0)
    backend.release.set()
    await close
    assert await results_of(running) == [10]
    with pytest.raises(ServiceNotReady):
        await queued[0]
    with pytest.raises(ServiceNotReady):
        batcher.enqueue(work(3), FAR)


class SlowableBackend:
    """A backend whose batches take ``seconds`` on the test's clock; the test slows it mid-run."""

    def __init__(self, clock: list[float], seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.batches: list[list] = []

    async def __call__(self, payloads, deadline):
        self.batches.append(list(payloads))
        await asyncio.sleep(0)
        self.clock[0] += self.seconds
        return [p * 10 for p in payloads]


async def test_a_backend_slowed_mid_run_sheds_queued_items_that_could_no_longer_finish():
    now = [0.0]
    backend = SlowableBackend(now, seconds=0.1)
    batcher = batcher_for(backend, max_batch_items=2, max_wait_ms=0, clock=lambda: now[0])
    assert await results_of(batcher.enqueue(work(1, 2), FAR)) == [10, 20]  # a batch takes 0.1 s
    backend.seconds = 2.0  # the backend slows after these were admitted
    futures = batcher.enqueue(work(3, 4, 5, 6), deadline=now[0] + 3.0)
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
    assert [result for result, _timing in outcomes[:2]] == [30, 40]  # started in time, finished in time
    for late in outcomes[2:]:  # a second 2 s batch would end past the deadline: not started
        assert isinstance(late, Overloaded) and late.retry_after_s >= 2.0, late
    assert [5, 6] not in backend.batches
    await batcher.close()


async def test_nothing_is_shed_before_a_batch_was_measured():
    now = [0.0]
    backend = SlowableBackend(now, seconds=2.0)
    batcher = batcher_for(backend, max_batch_items=2, max_wait_ms=0, clock=lambda: now[0])
    futures = batcher.enqueue(work(1, 2), deadline=1.0)
    assert await results_of(futures) == [10, 20]  # no evidence yet: it runs (the scorer's deadline rules)
    await batcher.close()


# ------------------------------------------------- enqueue_group: one future per request


class CountingObserver:
    def __init__(self) -> None:
        self.dropped: list[str] = []

    def batch_started(self, size, padded_tokens, queue_waits_s) -> None:
        pass

    def batch_finished(self, seconds, ok) -> None:
        pass

    def item_dropped(self, reason) -> None:
        self.dropped.append(reason)


async def test_a_group_answers_in_item_order_across_batches():
    backend = GatedBackend()
    backend.release.set()
    batcher = batcher_for(backend, max_batch_items=2, max_wait_ms=1)  # the last, partial batch goes too
    answers = await asyncio.wait_for(batcher.enqueue_group(work(1, 2, 3, 4, 5), FAR), 10)
    assert [result for result, _timing in answers] == [10, 20, 30, 40, 50]
    assert sorted(map(len, backend.batches)) == [1, 2, 2]  # three batches answered one future
    await batcher.close()


async def test_a_group_carries_each_items_own_outcome_as_gather_would():
    def fail_on_two(payloads):
        if 2 in payloads:
            raise RuntimeError("CUDA error: device-side assert")
        return [p * 10 for p in payloads]

    now = [0.0]
    backend = GatedBackend(result=fail_on_two)
    batcher = batcher_for(backend, max_batch_items=2, clock=lambda: now[0])
    blocker = batcher.enqueue(work(0, 0), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    expiring = batcher.enqueue_group(work(7), deadline=1.0)
    grouped = batcher.enqueue_group(work(1, 2, 3), FAR)  # batches [1, 2] (fails) and [3, 4]
    other = batcher.enqueue_group(work(4), FAR)
    now[0] = 2.0
    backend.release.set()
    answers = await asyncio.wait_for(grouped, 10)
    assert [type(a) for a in answers] == [BackendError, BackendError, tuple]
    assert answers[0] is answers[1]  # the batch's one error, as each future would have raised it
    assert answers[2][0] == 30 and answers[2][1].queue_s == 2.0  # queued at 0, started at 2
    assert [r for r, _ in await asyncio.wait_for(other, 10)] == [40]
    (late,) = await asyncio.wait_for(expiring, 10)
    assert isinstance(late, DeadlineExceeded)
    assert await results_of(blocker) == [0, 0]
    await batcher.close()


async def test_a_cancelled_group_drops_its_queued_items_before_running():
    backend = GatedBackend()
    observer = CountingObserver()
    batcher = batcher_for(backend, max_batch_items=2, observer=observer)
    blocker = batcher.enqueue(work(0, 0), FAR)  # occupies the only slot
    await asyncio.wait_for(backend.started.wait(), 10)
    cancelled = batcher.enqueue_group(work(1, 2), FAR)
    kept = batcher.enqueue_group(work(3), FAR)
    cancelled.cancel()
    backend.release.set()
    assert [r for r, _ in await asyncio.wait_for(kept, 10)] == [30]
    assert await results_of(blocker) == [0, 0]
    assert all(1 not in b and 2 not in b for b in backend.batches)
    assert observer.dropped == ["cancelled", "cancelled"]
    await batcher.close()


async def test_an_empty_group_is_answered_at_once_and_a_full_queue_takes_none():
    backend = GatedBackend()
    batcher = batcher_for(backend, max_batch_items=1, max_queue_items=3)
    assert await batcher.enqueue_group([], FAR) == []
    running = batcher.enqueue_group(work(1), FAR)
    await asyncio.wait_for(backend.started.wait(), 10)
    batcher.enqueue_group(work(2, 3), FAR)
    with pytest.raises(Overloaded):
        batcher.enqueue_group(work(4, 5), FAR)  # 2 queued + 2 > 3: none is queued
    assert batcher.queued == 2
    backend.release.set()
    assert [r for r, _ in await asyncio.wait_for(running, 10)] == [10]
    await batcher.close()
    with pytest.raises(ServiceNotReady):
        batcher.enqueue_group(work(6), FAR)
