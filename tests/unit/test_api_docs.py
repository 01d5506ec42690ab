"""docs/api.md and the generated OpenAPI schema describe the same API."""

import re
from pathlib import Path

import pytest

from rewardgate.api.http.app import create_app
from rewardgate.config.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()


@pytest.fixture(scope="module")
def openapi():
    return create_app(Settings()).openapi()


def test_every_route_in_the_schema_is_documented(openapi):
    for path, operations in openapi["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path}`" in DOC, path


def test_every_documented_route_exists(openapi):
    documented = set(re.findall(r"`(GET|POST) (/[a-z0-9_/]*)`", DOC))
    actual = {(m.upper(), p) for p, ops in openapi["paths"].items() for m in ops}
    assert documented <= actual


@pytest.mark.parametrize(
    "schema",
    [
        "ScoreRequest",
        "ScoreItem",
        "ScoreOptions",
        "ScoreResponse",
        "ScoreResult",
        "Usage",
        "ItemError",
        "ErrorBody",
        "OpenRLHFRewardRequest",
        "OpenRLHFRewardResponse",
        "PipelineInfo",
        "ComponentInfo",
        "ChatMessage",
        "StepRewards",
        "Explanation",
        "CompareRequest",
        "ComparePair",
        "CompareOptions",
        "CompareResponse",
        "CompareResult",
        "SlimeRewardRequest",
    ],
)
def test_every_field_of_the_wire_models_is_documented(openapi, schema):
    for field in openapi["components"]["schemas"][schema]["properties"]:
        assert f"`{field}`" in DOC, f"{schema}.{field} is not in docs/api.md"


def test_error_statuses_in_the_schema_use_the_envelope(openapi):
    score = openapi["paths"]["/v1/score"]["post"]["responses"]
    for status in ("404", "413", "422", "429", "503", "504"):
        assert score[status]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
