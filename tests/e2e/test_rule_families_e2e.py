"""Every rule family through /v1/score, from a pipeline file."""

import json

import pytest

from tests.support.server import score_ok

pytestmark = pytest.mark.slow


def score(service, pipeline, items):
    return score_ok(service, pipeline, items)["results"]


def test_rlvr_pipeline_combines_math_format_and_length(service):
    good = {"response": "<think>2+2 is 4</think><answer>\\boxed{4}</answer>", "reference": "4"}
    unformatted = {"response": "\\boxed{4}", "reference": "4"}
    # 46 words: 40 "hmm" and the words of the markup (think, think, answer, boxed, 4, answer)
    rambling = {"response": "<think>" + "hmm " * 40 + "</think><answer>\\boxed{4}</answer>", "reference": "4"}
    results = score(service, "rlvr", [good, unformatted, rambling])
    assert results[0]["components"] == {"correct": 1.0, "fmt": 1.0, "length": 0.0}
    assert results[0]["reward"] == 1.5
    assert results[1]["reward"] == 1.0  # correct, no format bonus
    assert results[2]["components"]["length"] == pytest.approx(-0.6)  # 46 words: DAPO soft zone 40..50
    assert results[2]["reward"] == pytest.approx(1.5 - 0.6)


def test_one_item_per_family_through_the_api(service):
    tool_gold = json.dumps([{"name": "search", "arguments": {"q": "cats"}}])
    items = [
        {"id": "mcq", "response": "The answer is (C)", "reference": "C"},
        {"id": "chrf", "response": "the cat sat on the mat", "reference": "the cat sat on the mat"},
        {"id": "json", "response": '```json\n{"name": "Ada"}\n```', "reference": "unused"},
        {
            "id": "tools",
            "response": '<tool_call>{"name": "search", "arguments": {"q": "cats"}}</tool_call>',
            "reference": tool_gold,
        },
        {
            "id": "sql",
            "response": "SELECT name FROM animals WHERE legs > 1",
            "reference": "SELECT name FROM animals WHERE legs >= 2",
            "metadata": {"db": "zoo.db"},
        },
    ]
    results = {r["id"]: r for r in score(service, "families", items)}
    assert results["mcq"]["components"]["mcq"] == 1.0
    assert results["chrf"]["components"]["chrf"] == pytest.approx(1.0)
    assert results["json"]["components"]["person"] == 1.0
    assert results["tools"]["components"]["tools"] == pytest.approx(1.0)
    assert results["sql"]["components"]["sql"] == 1.0


def test_sql_item_without_database_is_a_typed_error(service):
    (result,) = score(service, "families", [{"response": "SELECT 1", "reference": "SELECT 1"}])
    assert result["errors"]["sql"]["type"] == "invalid_reference"
    assert "sql" not in result["components"]
