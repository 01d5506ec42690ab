"""The access log's quicker path writes exactly uvicorn's lines (rewardgate/observability/access_log.py)."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from rewardgate.observability.access_log import AccessLineFormatter, AccessLogger
from rewardgate.server import RedactApiKeys

FORMAT = LOGGING_CONFIG["formatters"]["access"]["fmt"]


def record(status: int, path: str = "/v1/score", level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        level,
        "x.py",
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.7:5123", "POST", path, "1.1", status),
        None,
    )


@pytest.mark.parametrize("status", [200, 404, 413, 422, 429, 499, 503, 599])
@pytest.mark.parametrize("use_colors", [False, True])
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_lines_are_uvicorns(status, use_colors, level):
    ours = AccessLineFormatter(FORMAT, use_colors=use_colors)
    theirs = AccessFormatter(FORMAT, use_colors=use_colors)
    for _ in range(2):  # the second time from the memoised phrase
        assert ours.format(record(status, level=level)) == theirs.format(record(status, level=level))


@pytest.mark.parametrize(
    "fmt",
    [
        "%(asctime)s %(levelprefix)s %(client_addr)s %(request_line)s %(status_code)s %(message)s %(name)s",
        "%(status_code)s|%(levelname)s",
    ],
)
def test_other_percent_formats_are_uvicorns_too(fmt):
    ours, theirs = AccessLineFormatter(fmt, use_colors=False), AccessFormatter(fmt, use_colors=False)
    line = record(200, "/get_reward?pipeline=exact")
    assert ours.format(line) == theirs.format(line)


def test_a_brace_style_format_takes_uvicorns_path():
    fmt = "{levelprefix} {client_addr} {status_code}"
    ours, theirs = (
        AccessLineFormatter(fmt, style="{", use_colors=False),
        AccessFormatter(fmt, style="{", use_colors=False),
    )
    assert (
        ours.format(record(422))
        == theirs.format(record(422))
        == "INFO:     10.0.0.7:5123 422 Unprocessable Entity"
    )


def test_the_logger_keeps_levels_filters_and_handlers():
    logger = logging.getLogger("rewardgate.test.access")
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessLineFormatter(FORMAT, use_colors=False))
    logger.addHandler(handler)
    logger.addFilter(RedactApiKeys())
    try:
        access = AccessLogger(logger)
        logger.setLevel(logging.INFO)
        access.info(
            '%s - "%s %s HTTP/%s" %d', "10.0.0.7:5123", "POST", "/get_reward?api_key=s3cret", "1.1", 200
        )
        logger.setLevel(logging.WARNING)  # below its level: nothing written
        access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.7:5123", "POST", "/v1/score", "1.1", 200)
        assert (
            stream.getvalue()
            == 'INFO:     10.0.0.7:5123 - "POST /get_reward?api_key=REDACTED HTTP/1.1" 200 OK\n'
        )
        assert access.name == "rewardgate.test.access"  # anything else is the logger's
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()


ACCESS_ARGS = ("10.0.0.7:5123", "POST", "/v1/score", "1.1", 200)
TIMES = ("created", "msecs", "relativeCreated")


def make_record(logger: logging.Logger) -> logging.LogRecord:
    """What ``logger.info`` would record for an access line with no caller lookup."""
    return logger.makeRecord(
        logger.name, logging.INFO, "(unknown file)", 0, '%s - "%s %s HTTP/%s" %d', ACCESS_ARGS, None
    )


def without_times(line: logging.LogRecord) -> dict:
    return {key: value for key, value in vars(line).items() if key not in TIMES}


def test_an_access_record_has_every_field_of_logging_s_own_record():
    logger = logging.getLogger("uvicorn.access")
    ours = AccessLogger(logger).record('%s - "%s %s HTTP/%s" %d', ACCESS_ARGS)
    theirs = make_record(logger)
    assert type(ours) is logging.LogRecord
    assert without_times(ours) == without_times(theirs)
    assert theirs.created - 1 < ours.created <= theirs.created + 1
    assert ours.msecs == int((ours.created - int(ours.created)) * 1000)
    assert ours.relativeCreated == pytest.approx((ours.created - logging._startTime) * 1000)
    assert ours.getMessage() == '10.0.0.7:5123 - "POST /v1/score HTTP/1.1" 200'


def test_a_custom_record_factory_or_fields_switched_off_take_logging_s_own_record(monkeypatch):
    logger = logging.getLogger("uvicorn.access")

    class Tagged(logging.LogRecord):
        pass

    monkeypatch.setattr(logging, "_logRecordFactory", Tagged)
    assert type(AccessLogger(logger).record("%s", ("x",))) is Tagged
    monkeypatch.setattr(logging, "_logRecordFactory", logging.LogRecord)
    monkeypatch.setattr(logging, "logThreads", False)
    line = AccessLogger(logger).record("%s", ("x",))
    assert (line.thread, line.threadName) == (None, None)
