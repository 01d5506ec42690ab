"""Concurrent encode calls share one encode_many call, each getting its own slice."""

import asyncio
import threading

import pytest

from rewardgate.items import ScoringItem
from rewardgate.sources.model.backends.coalescing import CoalescingEncoder


class RecordingEncoder:
    """encode_many that blocks until released, so callers pile up behind the first call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def __call__(self, items):
        self.calls.append([item.response for item in items])
        self.release.wait(5)
        if any(item.response == "boom" for item in items):
            raise ValueError("tokenizer failed")
        return [f"encoded:{item.response}" for item in items]


async def test_callers_queued_behind_a_running_call_are_encoded_together():
    recorder = RecordingEncoder()
    encoder = CoalescingEncoder(recorder, "m")
    first = asyncio.create_task(encoder.encode([ScoringItem("", "a")]))
    await asyncio.sleep(0.05)  # the first call is now running on the thread
    rest = [
        asyncio.create_task(encoder.encode([ScoringItem("", f"b{i}"), ScoringItem("", f"c{i}")]))
        for i in range(3)
    ]
    await asyncio.sleep(0.05)
    recorder.release.set()
    assert await first == ["encoded:a"]
    assert [await task for task in rest] == [[f"encoded:b{i}", f"encoded:c{i}"] for i in range(3)]
    assert recorder.calls == [["a"], ["b0", "c0", "b1", "c1", "b2", "c2"]]
    encoder.close()


async def test_a_failed_call_fails_its_callers_and_the_next_call_works():
    recorder = RecordingEncoder()
    recorder.release.set()
    encoder = CoalescingEncoder(recorder, "m")
    with pytest.raises(ValueError, match="tokenizer failed"):
        await encoder.encode([ScoringItem("", "boom")])
    assert await encoder.encode([ScoringItem("", "fine")]) == ["encoded:fine"]
    encoder.close()


async def test_a_cancelled_caller_is_skipped():
    recorder = RecordingEncoder()
    encoder = CoalescingEncoder(recorder, "m")
    first = asyncio.create_task(encoder.encode([ScoringItem("", "a")]))
    await asyncio.sleep(0.05)
    gone = asyncio.create_task(encoder.encode([ScoringItem("", "gone")]))
    kept = asyncio.create_task(encoder.encode([ScoringItem("", "kept")]))
    await asyncio.sleep(0.01)
    gone.cancel()
    recorder.release.set()
    await first
    assert await kept == ["encoded:kept"]
    assert recorder.calls[-1] == ["kept"]
    encoder.close()
