"""Overload, deadlines, cancellation and start-up failures, each on its own server.

The "slow" server's reward model waits up to 2 s to fill a batch, so queued
work is observable without timing assertions: requests pile up (overload),
expire (deadline) or are abandoned by their client (cancellation).
"""

import asyncio
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.conftest import write_config
from tests.support.server import REPO_ROOT, ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slow_service(tmp_path_factory, tiny_rm):
    workdir = tmp_path_factory.mktemp("slow")
    config = write_config(
        workdir / "slow.yaml",
        {
            "models": {
                "rm": {
                    "kind": "reward_model",
                    "path": str(tiny_rm),
                    "batching": {"max_batch_items": 1000, "max_wait_ms": 2000},
                }
            },
            "pipelines": {"rm": {"components": {"r": {"model": "rm"}}}},
        },
    )
    env = {"REWARDGATE_MAX_INFLIGHT_ITEMS": "8", "REWARDGATE_OVERLOAD_RETRY_AFTER_S": "2"}
    process = ServiceProcess(config, env=env, log_path=workdir / "service.log")
    try:
        yield process.wait()
    finally:
        process.stop()


def one_item(i, **options):
    body = {"pipeline": "rm", "items": [{"prompt": "p", "response": f"item {i}"}]}
    if options:
        body["options"] = options
    return body


async def test_overload_is_refused_early_with_429_and_retry_after(slow_service):
    async with httpx.AsyncClient(
        base_url=slow_service.url, timeout=60, limits=httpx.Limits(max_connections=64)
    ) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/score", json=one_item(i, cache=False)) for i in range(40))
        )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) >= 8
    refused = [r for r in responses if r.status_code == 429]
    assert refused, statuses
    for response in refused:
        assert response.headers["retry-after"] == "2"
        assert response.json()["error"] == {
            "type": "overloaded",
            "message": response.json()["error"]["message"],
            "retryable": True,
        }
    # Everything admitted was answered with a real number.
    assert all(isinstance(r.json()["results"][0]["reward"], float) for r in responses if r.status_code == 200)


def test_request_past_its_deadline_is_504_and_its_work_is_dropped(slow_service):
    dropped_before = slow_service.metric("rewardgate_batcher_dropped_items_total", model="rm")
    response = httpx.post(slow_service.url + "/v1/score", json=one_item("late", deadline_ms=200), timeout=30)
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "deadline_exceeded"
    assert response.json()["error"]["retryable"] is True
    wait_for_metric_increase(
        slow_service, "rewardgate_batcher_dropped_items_total", dropped_before, model="rm"
    )


def test_client_disconnect_cancels_queued_work(slow_service):
    before = slow_service.metric("rewardgate_batcher_dropped_items_total", model="rm", reason="cancelled")
    batches_before = slow_service.metric("rewardgate_batch_size_count", model="rm")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(slow_service.url + "/v1/score", json=one_item("gone", cache=False), timeout=0.3)
    wait_for_metric_increase(
        slow_service, "rewardgate_batcher_dropped_items_total", before, model="rm", reason="cancelled"
    )
    assert slow_service.metric("rewardgate_batch_size_count", model="rm") == batches_before
    disconnected = slow_service.metric(
        "rewardgate_requests_total", route="/v1/score", pipeline="rm", status="499"
    )
    assert disconnected >= 1
    # Counted as its own type, not as an internal error with a traceback.
    wait_for_metric_increase(slow_service, "rewardgate_errors_total", 0, error_type="client_disconnected")
    assert slow_service.metric("rewardgate_errors_total", error_type="internal") == 0
    assert "unhandled error" not in slow_service.log()


def wait_for_metric_increase(service, name, before, timeout_s=30, **labels):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.metric(name, **labels) > before:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name}{labels} stayed at {before}")


def test_model_that_fails_to_load_keeps_readyz_503_and_scoring_503(tmp_path):
    # A model directory whose model cannot load (a missing directory stops start-up instead).
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    config = write_config(
        tmp_path / "broken.yaml",
        {
            "models": {"rm": {"kind": "reward_model", "path": str(broken)}},
            "rules": {"exact": {"type": "exact_match"}},
            "pipelines": {
                "rm": {"components": {"r": {"model": "rm"}}},
                "exact": {"components": {"m": {"rule": "exact"}}},
            },
        },
    )
    process = ServiceProcess(config, log_path=tmp_path / "service.log").wait("/healthz")
    try:
        deadline = time.monotonic() + 60
        while "load failed" not in str(httpx.get(process.url + "/readyz", timeout=5).json()):
            assert time.monotonic() < deadline, process.log()
            time.sleep(0.2)
        readyz = httpx.get(process.url + "/readyz", timeout=5)
        assert readyz.status_code == 503
        assert "load failed" in readyz.json()["detail"]["model:rm"]
        response = httpx.post(process.url + "/v1/score", json=one_item(1), timeout=10)
        assert response.status_code == 503 and response.headers["retry-after"]
        assert response.json()["error"]["retryable"] is True
        # Pipelines that do not use the broken model keep working.
        ok = httpx.post(
            process.url + "/v1/score",
            timeout=10,
            json={"pipeline": "exact", "items": [{"response": "a", "reference": "a"}]},
        )
        assert ok.json()["results"][0]["reward"] == 1.0
    finally:
        process.stop()


def test_broken_config_fails_startup_naming_the_key(tmp_path):
    config = write_config(
        tmp_path / "bad.yaml",
        {
            "rules": {"m": {"type": "math_verify"}},
            "pipelines": {"math": {"components": {"correct": {"rule": "mth"}}}},
        },
    )
    result = subprocess.run(
        [sys.executable, "-m", "rewardgate", "serve", "--config", str(config), "--port", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "pipelines.math.components.correct.rule: unknown rule 'mth'" in result.stderr
