"""docs/configuration.md names every setting and every pipeline-file key."""

from pathlib import Path

import pytest

from rewardgate.config.pipeline_file import BatchingSpec, CombineSpec, ComponentSpec, ModelSpec, PipelineSpec
from rewardgate.config.settings import Settings
from rewardgate.sources.rule.registry import RULE_TYPES

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC = (DOCS / "configuration.md").read_text()
RULES_DOC = (DOCS / "rules.md").read_text()


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name):
    assert f"`REWARDGATE_{name.upper()}`" in DOC


@pytest.mark.parametrize("model", [ModelSpec, BatchingSpec, ComponentSpec, CombineSpec, PipelineSpec])
def test_every_pipeline_file_key_is_documented(model):
    for key in model.model_fields:
        assert f"`{key}`" in DOC, f"{model.__name__}.{key}"


@pytest.mark.parametrize("rule_type", sorted(RULE_TYPES))
def test_every_rule_type_and_parameter_is_documented(rule_type):
    assert f"`{rule_type}`" in RULES_DOC
    for name, field in RULE_TYPES[rule_type].Params.model_fields.items():
        key = field.alias or name
        assert f"`{key}`" in RULES_DOC, f"{rule_type}.{key}"
