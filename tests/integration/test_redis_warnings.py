"""An unreachable Redis is never silent: a WARNING at start-up, one when lookups start failing
(not one per failure), one when it answers again; the password never reaches the log."""

import asyncio
import logging

import pytest

from rewardgate.observability.metrics import Metrics
from rewardgate.store.redis_cache import RedisScoreCache, redacted_url
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

LOGGER = "rewardgate.store.redis_cache"


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def make_cache(url: str) -> RedisScoreCache:
    return RedisScoreCache(
        url,
        ttl_s_by_kind={"rule": 60},
        metrics=Metrics(),
        namespace="warn-test",
        timeout_s=0.2,
        breaker_failures=2,
        breaker_reset_s=0.05,
    )


async def test_an_unreachable_redis_at_start_up_is_a_warning_without_the_password(caplog):
    server = RedisServer()  # a free port with nothing listening
    url = server.url.replace("redis://", "redis://:hunter2@")
    cache = make_cache(url)
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert await cache.check_reachable() is False
    finally:
        await cache.close()
    (warning,) = warnings_of(caplog)
    assert "unreachable" in warning and f"127.0.0.1:{server.port}" in warning
    assert "hunter2" not in warning and ":***@" in warning


async def test_an_outage_is_one_warning_and_the_recovery_another(caplog):
    server = RedisServer().start()
    cache = make_cache(server.url)
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            assert await cache.check_reachable() is True
            server.stop()
            for _ in range(6):  # failures open the breaker; its probes fail again
                assert await cache.get_many(["k"]) == [None]
                await asyncio.sleep(0.06)
            outage = warnings_of(caplog)
            server.start()
            while cache.breaker_state != "closed":
                await cache.get_many(["k"])
                await asyncio.sleep(0.06)
    finally:
        await cache.close()
        server.stop()
    assert len(outage) == 1 and "failing" in outage[0], outage
    assert warnings_of(caplog)[1:] == [f"Redis score cache at {server.url} answers again"]


def test_redacted_url_keeps_everything_but_the_password():
    assert redacted_url("redis://user:pw@h:6380/2") == "redis://user:***@h:6380/2"
    assert redacted_url("redis://h:6379/0") == "redis://h:6379/0"
