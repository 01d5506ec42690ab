"""Fixtures shared by the integration tests."""

import pytest

from tests.support.redis_server import RedisServer


@pytest.fixture
def redis_server():
    """A private redis-server on a free port, stopped after the test (tests may stop and
    restart it)."""
    server = RedisServer().start()
    yield server
    server.stop()
