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
  ``logging._srcfile`` is unset), and fills in the fields every access line
  shares (its logger, level, that unknown caller) from a kept copy rather than
  ``LogRecord.__init__``'s work per line; everything else (levels, filters such
  as ``RedactApiKeys``, handlers, the time) is the logger's.
* uvicorn's ``AccessFormatter`` copies the record twice (``copy.copy``) to
  add its fields and looks the status phrase up in ``http.HTTPStatus`` each
  time, and ``logging.Formatter.format`` formats the message and asks whether
  the format shows the time on every line. :class:`AccessLineFormatter` writes
  the same text from one mapping and a phrase table, formatting the message and
  the time only for a format that shows them; with colours on (a terminal), or a format style other than
  ``%`` or defaults, it is uvicorn's formatter unchanged.

The text of every line is uvicorn's (tests/unit/test_access_log.py compares
the two formatters line for line).
"""

from __future__ import annotations

import http
import logging
import os
import sys
import threading
import time
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
        self._uses_message = "%(message)" in style._fmt
        self._uses_time = self.usesTime()

    def format(self, record: logging.LogRecord) -> str:
        """``logging.Formatter.format``'s text for an access line (no traceback, no stack),
        without formatting the message or the time when the format does not show them."""
        if record.exc_info or record.stack_info or not self._fast:
            return super().format(record)
        if self._uses_message:
            record.message = record.getMessage()
        if self._uses_time:
            record.asctime = self.formatTime(record, self.datefmt)
        return self.formatMessage(record)

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
    ``info`` without the caller lookup, its record made from the fields every access line
    shares. Anything else is read from ``logger``."""

    __slots__ = ("_logger", "_names", "_shared")

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        #: (thread id, process id) -> (thread name, process name), as at that thread's first line.
        self._names: dict[tuple[int, int], tuple[str, str]] = {}
        #: The record fields that are the same for every access line (see :meth:`record`).
        self._shared = {
            "name": logger.name,
            "levelname": logging.getLevelName(logging.INFO),
            "levelno": logging.INFO,
            "pathname": "(unknown file)",
            "filename": "(unknown file)",
            "module": "(unknown file)",
            "exc_info": None,
            "exc_text": None,
            "stack_info": None,
            "lineno": 0,
            "funcName": None,
        }

    def info(self, msg: str, *args: object) -> None:
        logger = self._logger
        if logger.isEnabledFor(logging.INFO):
            logger.handle(self.record(msg, args))

    def record(self, msg: str, args: tuple) -> logging.LogRecord:
        """The record ``logger.makeRecord`` makes for this line with no caller (``pathname``
        ``"(unknown file)"``, line 0, no function), every field equal (tests/unit/
        test_access_log.py), without recomputing the fields every access line shares. The
        thread's and process's names are those at the thread's first access line (uvicorn's
        lines all come from its event loop's thread, which nothing renames).
        A custom record factory, or logging's thread/process fields switched off, takes
        ``makeRecord`` itself."""
        if not (
            logging.logThreads
            and logging.logProcesses
            and logging.logMultiprocessing
            and logging.getLogRecordFactory() is logging.LogRecord
        ):
            logger = self._logger
            return logger.makeRecord(logger.name, logging.INFO, "(unknown file)", 0, msg, args, None)
        record = logging.LogRecord.__new__(logging.LogRecord)
        fields = record.__dict__
        fields.update(self._shared)
        created = time.time()
        fields["msg"] = msg
        fields["args"] = args
        fields["created"] = created
        fields["msecs"] = int((created - int(created)) * 1000) + 0.0
        fields["relativeCreated"] = (created - logging._startTime) * 1000
        thread, process = threading.get_ident(), os.getpid()
        fields["thread"] = thread
        fields["process"] = process
        names = self._names.get((thread, process))
        if names is None:  # the first line from this thread of this process
            multiprocessing = sys.modules.get("multiprocessing")
            names = self._names[(thread, process)] = (
                threading.current_thread().name,
                multiprocessing.current_process().name if multiprocessing is not None else "MainProcess",
            )
        fields["threadName"], fields["processName"] = names
        return record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)
