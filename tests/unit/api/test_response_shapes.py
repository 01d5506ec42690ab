"""The HTTP response shape is declared twice: the core's result dataclasses (what is encoded,
core/results.py) and the pydantic models (what the OpenAPI schema documents, api/http/schemas.py).
These tests keep the two the same: field names in the same order, nested shapes paired, and
fully populated replies encoded by ``to_json`` read back by the models unchanged."""

from __future__ import annotations

import dataclasses
import typing

import orjson
import pytest
from pydantic import BaseModel

from rewardgate.api.http import schemas
from rewardgate.core import results
from rewardgate.core.results import to_json

PAIRS = {
    results.ScoreReply: schemas.ScoreResponse,
    results.ItemResult: schemas.ScoreResult,
    results.ItemError: schemas.ItemError,
    results.StepRewards: schemas.StepRewards,
    results.Usage: schemas.Usage,
    results.CompareReply: schemas.CompareResponse,
    results.PairResult: schemas.CompareResult,
    results.PipelineInfo: schemas.PipelineInfo,
    results.ComponentInfo: schemas.ComponentInfo,
}


def classes_in(annotation) -> set[type]:
    """Every class named inside a (possibly nested, generic) annotation."""
    found = {annotation} if isinstance(annotation, type) else set()
    for argument in typing.get_args(annotation):
        found |= classes_in(argument)
    return found


def test_every_result_dataclass_has_a_documented_model():
    declared = {
        cls
        for cls in vars(results).values()
        if dataclasses.is_dataclass(cls) and cls.__module__ == results.__name__
    }
    # StageTimings travels as the x-*-time headers, not in the body.
    assert declared - {results.StageTimings} == set(PAIRS)


@pytest.mark.parametrize(("dataclass", "model"), PAIRS.items(), ids=lambda c: c.__name__)
def test_fields_agree_in_name_order_and_nested_shape(dataclass, model: type[BaseModel]):
    hints = typing.get_type_hints(dataclass)
    assert [f.name for f in dataclasses.fields(dataclass)] == list(model.model_fields)
    for name, field in model.model_fields.items():
        nested_data = {c for c in classes_in(hints[name]) if c in PAIRS}
        nested_models = {
            c for c in classes_in(field.annotation) if isinstance(c, type) and issubclass(c, BaseModel)
        }
        # The explanation is a plain dict on the encoding side, a documented tree on the model side.
        nested_models.discard(schemas.Explanation)
        assert {PAIRS[c] for c in nested_data} == nested_models, name


def full_item(item_id: str, reward: float | None, status: str) -> results.ItemResult:
    return results.ItemResult(
        id=item_id,
        reward=reward,
        status=status,
        components={"match": 1.0, "judge": 0.25},
        errors={"judge": results.ItemError("judge_timeout", "no verdict in 2 s", True)}
        if status != "ok"
        else {},
        cached=["match"],
        steps={"prm": results.StepRewards(rewards=[0.5, 0.25], deltas=[0.25, 0.25])},
        explanation={
            "name": "reward",
            "op": "combine",
            "value": 1.0,
            "formula": "1.0 * 1.0",
            "inputs": [{"name": "match", "op": "rule", "value": 1.0, "formula": "", "inputs": []}],
        },
    )


def assert_read_back_unchanged(value, model: type[BaseModel]) -> None:
    encoded = to_json(value)
    assert model.model_validate_json(encoded).model_dump(mode="json") == orjson.loads(encoded)


def test_a_full_score_outcome_reads_back_unchanged():
    reply = results.ScoreReply(
        pipeline="p",
        pipeline_hash="sha256:0",
        results=[full_item("0", 1.0, "ok"), full_item("1", None, "error"), full_item("2", 0.5, "partial")],
        usage=results.Usage(items=3, cache_hits=3, model_tokens=12, judge_tokens=40),
        versions={"rule:exact": "v1"},
    )
    assert_read_back_unchanged(reply, schemas.ScoreResponse)


def test_a_full_compare_outcome_reads_back_unchanged():
    reply = results.CompareReply(
        pipeline="p",
        pipeline_hash="sha256:0",
        results=[
            results.PairResult("x", 0.73, "ok", full_item("a", 1.0, "ok"), full_item("b", 0.0, "ok")),
            results.PairResult("y", None, "error", full_item("a", None, "error"), full_item("b", 0.5, "ok")),
        ],
        usage=results.Usage(items=4, cache_hits=0, model_tokens=0),
    )
    assert_read_back_unchanged(reply, schemas.CompareResponse)


def test_pipelines_read_back_unchanged():
    listing = {
        "pipelines": [
            results.PipelineInfo(
                "p",
                "a pipeline",
                "sha256:0",
                True,
                {
                    "rm": results.ComponentInfo("model", "model:rm", "helpful", True, 1.0, ["standardize"]),
                    "mix": results.ComponentInfo("ensemble", None, 0, False, 0.0, []),
                },
            )
        ]
    }
    assert_read_back_unchanged(listing, schemas.PipelinesResponse)
