"""uvicorn's access log, the same lines at about half the cost per request.

Every HTTP request writes one access line (``Settings.access_log``, on by
default). Through uvicorn's own path that line was the largest single cost of
a single-item request the server pays besides scoring: about 117,000 of the
~850,000 instructions per request (``bench/instructions.py --servers``, the
service with and without ``REWARDGATE_ACCESS_LOG``), more than the rule it
scores. Two parts of it do work nobody reads:

* ``logger.info`` walks the call stack to record the caller's file, line and
  function (``findCaller``), for a line whose caller is always uvicorn's
  ``send``. :class:`AccessLogger` makes the record without that walk (the
  record's ``pathname`` is logging's own ``"(unknown file)"``, as when
  ``logging._srcfile`` is unset); everything else (levels, filters such as
  ``RedactApiKeys``, handlers, the time) is the logger's.
* uvicorn's ``AccessFormatter`` copies the record twice (``copy.copy``) to
  add its fields and looks the status phrase up in ``http.HTTPStatus`` each
  time. :class:`AccessLineFormatter` writes the same text from one mapping and
  a phrase table; with colours on (a terminal), or a format style other than
  ``%`` or defaults, it is uvicorn's formatter unchanged.

The text of every line is uvicorn's (tests/unit/test_access_log.py compares
the two formatters line for line).
"""

from __future__ import annotations

import http
import logging
from typing import Any

from uvicorn.logging import AccessFormatter

#: The formatter factory for uvicorn's ``log_config`` (``formatters.access["()"]``).
FORMATTER_PATH = f"{__name__}.AccessLineFormatter"


class AccessLineFormatter(AccessFormatter):
    """uvicorn's ``AccessFormatter``, writing the same text without copying the record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._status_texts: dict[int, str] = {}
        style = self._style
        #: The fast path needs a plain ``%`` format with no defaults (what uvicorn configures).
        self._fast = type(style) is logging.PercentStyle and not getattr(style, "_defaults", None)

    def formatMessage(self, record: logging.LogRecord) -> str:
        args = record.args
        if self.use_colors or not self._fast or not isinstance(args, tuple) or len(args) != 5:
            return super().formatMessage(record)
        client_addr, method, full_path, http_version, status_code = args
        values = dict(record.__dict__)
        values["levelprefix"] = record.levelname + ":" + " " * (8 - len(record.levelname))
        values["client_addr"] = client_addr
        values["request_line"] = f"{method} {full_path} HTTP/{http_version}"
        values["status_code"] = self._status_text(int(status_code))
        return self._style._fmt % values

    def _status_text(self, status_code: int) -> str:
        """``"200 OK"``, as uvicorn's ``get_status_code`` writes it without colours (memoised)."""
        text = self._status_texts.get(status_code)
        if text is None:
            try:
                phrase = http.HTTPStatus(status_code).phrase
            except ValueError:
                phrase = ""
            text = self._status_texts[status_code] = f"{status_code} {phrase}"
        return text


class AccessLogger:
    """What uvicorn's request cycle calls ``.info`` on for each access line: ``logger``'s
    ``info`` without the caller lookup. Anything else is read from ``logger``."""

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def info(self, msg: str, *args: object) -> None:
        logger = self._logger
        if logger.isEnabledFor(logging.INFO):
            logger.handle(logger.makeRecord(logger.name, logging.INFO, "(unknown file)", 0, msg, args, None))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)
