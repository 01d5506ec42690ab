"""SQL execution match (Reasoning-SQL style) on SQLite.

The item's ``reference`` is the gold query; ``metadata["db"]`` names a
database file inside the rule's ``database_dir`` (no path outside it is
accepted). Both queries run on a read-only connection whose authorizer allows
only reading (no ATTACH, PRAGMA, writes or schema changes), under a time limit
enforced by SQLite's progress handler, inside the killable verifier pool.

Score: 1.0 when the predicted query returns the gold result (as a multiset of
rows, or as a list when the gold query has ORDER BY); ``syntax_credit`` when
it executes but the results differ; 0.0 when it does not execute (syntax
error, or a denied write/ATTACH/PRAGMA) or is not a query at all (empty,
``;``, comments only: nothing returns rows). Results are compared whole: a
gold result over ``max_rows`` rows is ``invalid_reference``, a predicted one
over it differs (so ``LIMIT n`` never matches a longer gold result). A query past ``timeout_s`` is
``verifier_timeout``; a gold query that fails is ``invalid_reference``.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path

from pydantic import Field

from rewardgate.errors import InvalidReference, VerifierTimeout
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams

_FENCE = re.compile(r"```(?:sql)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}
_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", None)
if _RECURSIVE is not None:
    _READ_ACTIONS.add(_RECURSIVE)


class SqlParams(RuleParams):
    database_dir: str = Field(description="Directory holding the SQLite files items may name.")
    timeout_s: float = Field(5.0, gt=0, le=300, description="Per-item limit (both queries).")
    syntax_credit: float = Field(0.1, ge=0, le=1, description="Score of a query that runs but differs.")
    max_rows: int = Field(100_000, gt=0, description="Rows fetched per query at most.")
    memory_mb: int = Field(256, ge=16, le=65536, description="SQLite heap limit of the verifier process.")


def extract_sql(response: str) -> str:
    fenced = _FENCE.search(response)
    return (fenced.group(1) if fenced else response).strip().rstrip(";").strip()


def _authorize(action: int, *_args) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY


class SqlExecution(Rule):
    type_name = "sql_execution"
    Params = SqlParams
    isolated = True
    reads = ("response", "reference", "metadata")

    def grade(self, item: ScoringItem) -> float:
        gold = self.require_reference(item).strip().rstrip(";")
        with contextlib.closing(self._connect(item)) as connection:
            try:
                expected = self._run(connection, gold)
            except sqlite3.Error as exc:
                raise InvalidReference(f"the gold query fails: {exc}") from exc
            if expected is None:
                raise InvalidReference("the gold query is not a query (it returns no rows)")
            try:
                actual = self._run(connection, extract_sql(item.response))
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise VerifierTimeout(f"the query ran past timeout_s={self.params.timeout_s:g}") from exc
                return 0.0
            except sqlite3.Error:
                return 0.0
        if actual is None:
            return 0.0  # not a query: an empty, ';' or comment-only response returns no rows at all
        if len(expected) > self.params.max_rows:
            raise InvalidReference(f"the gold query returns more than max_rows={self.params.max_rows} rows")
        ordered = re.search(r"\border\s+by\b", gold, re.IGNORECASE) is not None
        same = actual == expected if ordered else Counter(actual) == Counter(expected)
        return 1.0 if same else self.params.syntax_credit

    def _connect(self, item: ScoringItem) -> sqlite3.Connection:
        name = item.metadata.get("db")
        root = Path(self.params.database_dir).resolve()
        path = (root / str(name)).resolve() if name else None
        if path is None or root not in path.parents or not path.is_file():
            # The server's directory is not the caller's business: name the field, not the path.
            raise InvalidReference("metadata.db must name one of this rule's database files")
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        # Bound what one query can allocate: SQLite's heap (process-wide, so the verifier
        # process stays small) and the largest string or blob a query may build.
        connection.execute(f"PRAGMA hard_heap_limit = {self.params.memory_mb * 1024 * 1024}")
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000)
        connection.set_authorizer(_authorize)
        return connection

    def _run(self, connection: sqlite3.Connection, query: str) -> list[tuple] | None:
        """Up to ``max_rows + 1`` rows (one more shows the result was longer); None for a non-query."""
        deadline = time.monotonic() + self.params.timeout_s
        # Returning non-zero from the progress handler aborts the statement.
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        cursor = connection.execute(query)
        if cursor.description is None:
            return None
        return cursor.fetchmany(self.params.max_rows + 1)
