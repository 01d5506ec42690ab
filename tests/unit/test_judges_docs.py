"""docs/judges.md names every judge key, kind and error type."""

import typing
from pathlib import Path

import pytest

from rewardgate import errors
from rewardgate.sources.judge.spec import BreakerSpec, FallbackSpec, JudgeSpec, RetrySpec

DOC = (Path(__file__).resolve().parents[2] / "docs" / "judges.md").read_text()


@pytest.mark.parametrize("model", [JudgeSpec, RetrySpec, BreakerSpec, FallbackSpec], ids=lambda m: m.__name__)
def test_every_judge_key_is_documented(model):
    for name in model.model_fields:
        assert f"`{name}`" in DOC or f"{name}:" in DOC, f"{model.__name__}.{name}"


def test_every_kind_is_documented():
    for kind in typing.get_args(JudgeSpec.model_fields["kind"].annotation):
        assert f"`{kind}`" in DOC


@pytest.mark.parametrize(
    "error", [errors.JudgeParseError, errors.JudgeRefusal, errors.JudgeUnavailable, errors.JudgeTimeout]
)
def test_every_judge_error_type_is_documented(error):
    assert f"`{error.error_type}`" in DOC
