"""The uvicorn configuration the service runs with follows the settings."""

import logging

import pytest
from fastapi import FastAPI

from rewardgate.config.settings import Settings
from rewardgate.server import HeaderTimeoutProtocol, RedactApiKeys, server_config


@pytest.mark.parametrize("access_log", [True, False])
def test_access_log_follows_the_setting(access_log):
    config = server_config(FastAPI(), Settings(access_log=access_log, grpc_port=0))
    assert config.access_log is access_log


def test_connection_settings_reach_uvicorn():
    settings = Settings(header_timeout_s=3.5, keep_alive_timeout_s=7, drain_grace_s=11, grpc_port=0)
    config = server_config(FastAPI(), settings)
    assert issubclass(config.http, HeaderTimeoutProtocol)
    assert config.http.header_timeout_s == 3.5
    assert (config.timeout_keep_alive, config.timeout_graceful_shutdown) == (7, 11)


def test_api_keys_in_access_lines_are_redacted():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "POST", "/get_reward?pipeline=exact&api_key=secret", "1.1", 200),
        None,
    )
    assert RedactApiKeys().filter(record)
    assert "secret" not in record.getMessage()
    assert "api_key=REDACTED" in record.getMessage()
