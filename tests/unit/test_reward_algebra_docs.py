"""docs/reward-algebra.md covers every key and choice of the algebra's YAML."""

import typing
from pathlib import Path

import pytest

from rewardgate.algebra import spec

DOC = (Path(__file__).resolve().parents[2] / "docs" / "reward-algebra.md").read_text()

MODELS = [
    spec.StandardizeTransform,
    spec.AffineTransform,
    spec.ClipTransform,
    spec.TanhTransform,
    spec.LogSigmoidTransform,
    spec.ParTransform,
    spec.EnsembleSpec,
    spec.RouteSpec,
    spec.DelimiterSplit,
    spec.TagSplit,
    spec.StepsSpec,
    spec.CombineSpec,
    spec.GateSpec,
    spec.ConstraintSpec,
    spec.OverlongLengthPenalty,
    spec.LinearLengthPenalty,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_key_and_literal_choice_is_documented(model):
    for name, field in model.model_fields.items():
        key = field.alias or name
        assert f"`{key}`" in DOC, f"{model.__name__}.{key}"
        for arg in typing.get_args(field.annotation):
            if isinstance(arg, str):
                assert f"`{arg}`" in DOC, f"{model.__name__}.{key} = {arg}"
        if typing.get_origin(field.annotation) is typing.Literal:
            for choice in typing.get_args(field.annotation):
                assert f"`{choice}`" in DOC, f"{model.__name__}.{key} = {choice}"
