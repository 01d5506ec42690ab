"""The sync client's results, built from the decoded reply it owns, are those of ``ScoreReply``."""

from __future__ import annotations

import copy

from rewardgate_client.types import ItemError, ScoreReply, results_from_reply

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
