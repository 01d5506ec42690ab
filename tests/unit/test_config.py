"""Pipeline configuration: valid files load; broken ones name the bad key."""

import pytest

from rewardgate.config.pipeline_file import load_config, parse_config
from rewardgate.config.settings import default_pipeline_file
from rewardgate.errors import ConfigError

VALID = {
    "models": {"rm": {"kind": "reward_model", "path": "/models/rm"}},
    "rules": {"math": {"type": "math_verify", "timeout_s": 2}, "fmt": {"type": "regex", "pattern": "x+"}},
    "pipelines": {
        "p": {
            "components": {"correct": {"rule": "math"}, "rm": {"model": "rm"}, "fmt": {"rule": "fmt"}},
            "combine": {"weights": {"correct": 1.0, "rm": 0.2}},
        }
    },
}


def with_change(path: str, value):
    import copy

    config = copy.deepcopy(VALID)
    *parents, leaf = path.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[leaf] = value
    return config


def error_for(raw) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return caught.value.message


def test_shipped_default_file_is_valid_and_has_math_and_similarity():
    config = load_config(default_pipeline_file())
    assert {"math", "similarity"} <= set(config.pipelines)


def test_valid_config_parses_and_hash_is_stable():
    first, second = parse_config(VALID), parse_config(VALID)
    assert first.pipeline_hash("p") == second.pipeline_hash("p")
    assert first.pipeline_hash("p").startswith("sha256:")


def test_pipeline_hash_changes_when_a_used_rule_changes():
    changed = parse_config(with_change("rules.math.timeout_s", 3))
    assert changed.pipeline_hash("p") != parse_config(VALID).pipeline_hash("p")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("pipelines.p.components.rm", {"model": "missing"}, "pipelines.p.components.rm.model: unknown model"),
        ("pipelines.p.components.correct", {"rule": "nope"}, "pipelines.p.components.correct.rule"),
        ("pipelines.p.components.correct", {"rule": "math", "model": "rm"}, "exactly one of"),
        ("pipelines.p.combine", {"weights": {"ghost": 1}}, "pipelines.p.combine.weights.ghost"),
        ("rules.math", {"type": "math_verfy"}, "rules.math.type: unknown rule type 'math_verfy'"),
        ("rules.math", {"type": "math_verify", "timeout_s": -1}, "rules.math.timeout_s"),
        ("rules.math", {"type": "math_verify", "tmeout_s": 1}, "rules.math.tmeout_s"),
        ("rules.fmt", {"type": "regex", "pattern": "(a"}, "rules.fmt.pattern: not valid RE2"),
        ("models.rm", {"kind": "reward_model"}, "models.rm"),
        (
            "models.rm",
            {"kind": "reward_model", "path": "/m", "batching": {"max_wait_ms": -1}},
            "models.rm.batching.max_wait_ms",
        ),
        ("pipelines.p.components", {}, "pipelines.p.components"),
        ("pipelines.p.extra_key", 1, "pipelines.p.extra_key"),
    ],
)
def test_invalid_config_names_the_bad_key(path, value, expected):
    assert expected in error_for(with_change(path, value))


def test_unreadable_and_non_mapping_files_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipelines: [unclosed")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    assert "top level must be a mapping" in error_for(["not", "a", "mapping"])
