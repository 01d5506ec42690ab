"""The sync client's results, built from the decoded reply it owns, are those of ``ScoreReply``."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from rewardgate_client.types import ItemError, Result, ScoreReply, results_from_reply

REPLY = {
    "pipeline": "p",
    "pipeline_hash": "sha256:abc",
    "results": [
        {
            "id": "0",
            "reward": 0.5,
            "status": "ok",
            "components": {"match": 1.0, "len": 0.0},
            "errors": {},
            "cached": ["rule:exact"],
            "steps": {"match": {"values": [1.0]}},
            "explanation": {"why": "matched"},
        },
        {
            "id": "1",
            "reward": None,
            "status": "error",
            "components": None,
            "errors": {"model:rm": {"type": "timeout", "message": "slow", "retryable": True}},
            "cached": None,
            "steps": None,
            "explanation": None,
        },
        {"id": "2", "status": "partial"},  # fields a server may leave out
    ],
    "usage": {"items": 3},
    "versions": {},
}


def test_results_from_a_reply_equal_the_score_replys():
    expected = ScoreReply.from_dict(copy.deepcopy(REPLY)).results
    results = results_from_reply(copy.deepcopy(REPLY))
    assert results == expected
    assert results[1].errors == {"model:rm": ItemError("timeout", "slow", True)} and not results[1].ok
    assert [r.pipeline_hash for r in results] == ["sha256:abc"] * 3
    assert results[2].components == {} and results[2].cached == [] and results[2].reward is None


FULL = {
    "id": "0",
    "reward": 1.0,
    "status": "ok",
    "components": {"match": 1.0},
    "errors": {},
    "cached": [],
    "steps": None,
    "explanation": None,
}


def test_a_result_in_the_services_full_shape_is_the_dataclasss_own():
    reply = {"pipeline": "p", "pipeline_hash": "sha256:abc", "results": [copy.deepcopy(FULL)]}
    expected = ScoreReply.from_dict(copy.deepcopy(reply)).results
    results = results_from_reply(reply)
    assert results == expected and type(results[0]) is Result
    assert results[0].__dict__ is reply["results"][0]  # taken as it is, no dataclass __init__
    assert list(vars(results[0]).items()) == list(vars(expected[0]).items())  # the service's order
    assert dataclasses.asdict(results[0]) == dataclasses.asdict(expected[0])
    assert dataclasses.replace(results[0], reward=0.0).reward == 0.0 and results[0].ok


@pytest.mark.parametrize(
    "result",
    [
        {**FULL, "latency_ms": 3},  # a field this client does not know
        {k: v for k, v in FULL.items() if k != "steps"},  # one left out
        {**FULL, "errors": {"rule:x": {"type": "timeout", "message": "m", "retryable": True}}},
        {**FULL, "errors": None},
        {**FULL, "components": None},
        {**FULL, "cached": None},
    ],
    ids=["extra", "missing", "errors", "null-errors", "null-components", "null-cached"],
)
def test_any_other_shape_is_built_by_the_general_path(result):
    reply = {"pipeline": "p", "pipeline_hash": "sha256:abc", "results": [copy.deepcopy(result)]}
    expected = ScoreReply.from_dict(copy.deepcopy(reply)).results
    results = results_from_reply(reply)
    assert results == expected
    assert results[0].__dict__ is not reply["results"][0]
    assert set(vars(results[0])) == {f.name for f in dataclasses.fields(Result)}


def test_a_full_result_in_another_order_is_still_equal():
    reply = {"pipeline": "p", "pipeline_hash": "h", "results": [dict(reversed(FULL.items()))]}
    expected = ScoreReply.from_dict(copy.deepcopy(reply)).results
    assert results_from_reply(reply) == expected
