"""SQL execution and pathological inputs, through the real verifier pool."""

import sqlite3
import time

import pytest

from rewardgate.errors import InvalidReference, VerifierTimeout
from rewardgate.items import ScoringItem
from rewardgate.sources.base import SourceKey
from rewardgate.sources.rule.pool import VerifierPool
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.source import RuleSource

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("dbs")
    with sqlite3.connect(root / "shop.db") as db:
        db.executescript("""
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
            INSERT INTO customers VALUES
                (1, 'Ada', 'London'), (2, 'Grace', 'Arlington'), (3, 'Alan', 'London');
        """)
    return root


def sql_item(predicted, gold, db="shop.db"):
    return ScoringItem("", predicted, gold, {"db": db})


@pytest.mark.parametrize(
    ("predicted", "gold", "expected"),
    [
        (
            "SELECT name FROM customers WHERE city = 'London'",
            "SELECT name FROM customers WHERE city='London'",
            1.0,
        ),
        (
            "```sql\nSELECT c.name FROM customers AS c WHERE c.id IN (3, 1);\n```",
            "SELECT name FROM customers WHERE city = 'London'",
            1.0,
        ),  # same rows, other order: fine
        (
            "SELECT name FROM customers WHERE city = 'London' ORDER BY name DESC",
            "SELECT name FROM customers WHERE city = 'London' ORDER BY name",
            0.1,
        ),  # order matters here
        ("SELECT name FROM customers", "SELECT name FROM customers WHERE city = 'London'", 0.1),
        ("SELEC name FROM customers", "SELECT name FROM customers", 0.0),
        ("DELETE FROM customers", "SELECT name FROM customers", 0.0),
        ("DROP TABLE customers", "SELECT name FROM customers", 0.0),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "SELECT name FROM customers", 0.0),
        ("SELECT 1; DELETE FROM customers", "SELECT 1", 0.0),
    ],
)
def test_sql_execution_match(database_dir, predicted, gold, expected):
    rule = build_rule("sql_execution", {"database_dir": str(database_dir)})
    assert rule.grade(sql_item(predicted, gold)) == expected


def test_sql_never_writes_the_database(database_dir):
    rule = build_rule("sql_execution", {"database_dir": str(database_dir)})
    for attack in ("DELETE FROM customers", "UPDATE customers SET name = 'x'", "PRAGMA writable_schema = 1"):
        rule.grade(sql_item(attack, "SELECT 1"))
    with sqlite3.connect(database_dir / "shop.db") as db:
        assert db.execute("SELECT count(*) FROM customers WHERE name != 'x'").fetchone() == (3,)


@pytest.mark.parametrize("db", ["../etc/passwd", "/etc/passwd", "missing.db", None])
def test_sql_database_must_be_a_file_inside_database_dir(database_dir, db):
    rule = build_rule("sql_execution", {"database_dir": str(database_dir)})
    with pytest.raises(InvalidReference):
        rule.grade(ScoringItem("", "SELECT 1", "SELECT 1", {"db": db} if db else {}))


def test_sql_failing_gold_is_an_invalid_reference(database_dir):
    rule = build_rule("sql_execution", {"database_dir": str(database_dir)})
    with pytest.raises(InvalidReference, match="gold query fails"):
        rule.grade(sql_item("SELECT 1", "SELECT nope FROM nowhere"))


def test_sql_runaway_query_is_a_verifier_timeout(database_dir):
    rule = build_rule("sql_execution", {"database_dir": str(database_dir), "timeout_s": 0.5})
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    started = time.monotonic()
    with pytest.raises(VerifierTimeout):
        rule.grade(sql_item(endless, "SELECT 1"))
    assert time.monotonic() - started < 10


@pytest.fixture(scope="module")
def pool():
    pool = VerifierPool(workers=2, max_tasks_per_worker=100)
    yield pool
    pool.close()


PATHOLOGICAL = [
    ("rouge", {"timeout_s": 1}, ScoringItem("", "word " * 20_000, "term " * 20_000)),
    ("math_verify", {"timeout_s": 2}, ScoringItem("", "\\frac{" * 3000 + "1" + "}" * 3000, "1")),
    ("math_verify", {"timeout_s": 2}, ScoringItem("", "x" * 100_000, "1")),
    ("bleu", {"timeout_s": 2}, ScoringItem("", "a " * 50_000, "a b " * 25_000)),
]


@pytest.mark.parametrize(("rule_type", "params", "item"), PATHOLOGICAL)
async def test_pathological_inputs_finish_within_their_timeout_and_the_pool_survives(
    pool, rule_type, params, item
):
    source = RuleSource(SourceKey("rule", rule_type), rule=build_rule(rule_type, params), pool=pool)
    started = time.monotonic()
    result = await source.compute([item], deadline=time.monotonic() + 60)
    assert time.monotonic() - started < params["timeout_s"] + 15  # + worker replacement
    outcome = result.outcomes[0]
    assert isinstance(outcome, (list, VerifierTimeout)), outcome
    # The pool is at full strength: two quick checks run side by side afterwards.
    quick = RuleSource(SourceKey("rule", "ok"), rule=build_rule("math_verify", {}), pool=pool)
    answers = await quick.compute([ScoringItem("", "\\boxed{2}", "2")] * 2, deadline=time.monotonic() + 60)
    assert [a for a in answers.outcomes] == [[1.0], [1.0]]
