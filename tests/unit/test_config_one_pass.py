"""A broken pipeline file is reported whole, in one start-up: schema errors, rule parameters,
missing model directories and unknown names together, with no C++ log lines or bytes reprs,
before the heavy modules (torch, transformers) are imported."""

import subprocess
import sys

import pytest
import yaml

from rewardgate.config.pipeline_file import load_config, parse_config
from rewardgate.errors import ConfigError
from tests.support.server import REPO_ROOT

BROKEN = {
    "models": {"rm": {"kind": "reward_model", "path": "/nowhere/rm", "max_length": -1}},
    "rules": {
        "fmt": {"type": "regex", "pattern": "(unclosed"},
        "slow": {"type": "math_verify", "timeout_s": "soon"},
    },
    "pipelines": {
        "p": {
            "components": {
                "a": {"rule": "fmt"},
                "b": {"model": "rm"},
                "c": {"rule": "nope"},
                "d": {"rule": "slow", "weight": 3},
            }
        },
        "q": {"components": {"e": {"judge": "missing"}}},
    },
}


def problems_of(path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [line.strip() for line in caught.value.message.splitlines()[1:]]


def test_every_kind_of_problem_is_reported_in_one_pass(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(BROKEN))
    problems = problems_of(path)
    expected = [
        "models.rm.max_length:",  # schema
        "pipelines.p.components.d.weight: Extra inputs",  # schema, elsewhere
        "rules.fmt.pattern: not valid RE2 syntax: missing ): (unclosed",  # rule parameters
        "rules.slow.timeout_s:",
        "models.rm.path: no such directory: /nowhere/rm",  # the file system
        "pipelines.p.components.c.rule: unknown rule 'nope'",  # references, in an invalid pipeline
        "pipelines.q.components.e.judge: unknown judge 'missing'",
    ]
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)
    assert not any("b'" in problem for problem in problems)  # no bytes repr


def test_a_reference_to_a_declared_but_invalid_entry_is_not_also_unknown():
    raw = {
        "models": {"rm": {"kind": "reward_model", "path": "/m", "max_length": 0}},
        "pipelines": {"p": {"components": {"b": {"model": "rm"}}}},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert "models.rm.max_length" in caught.value.message
    assert "unknown model" not in caught.value.message


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda root: root / "absent", "no such directory"),
        (lambda root: (root / "file").write_text("x") and root / "file", "not a directory"),
        (lambda root: (root / "empty").mkdir() or root / "empty", "no config.json in"),
    ],
)
def test_a_local_model_path_must_be_a_model_directory(tmp_path, make, reason):
    raw = {
        "models": {"rm": {"kind": "reward_model", "path": str(make(tmp_path))}},
        "pipelines": {"p": {"components": {"r": {"model": "rm"}}}},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, check_paths=True)
    assert f"models.rm.path: {reason}" in caught.value.message.replace(str(tmp_path) + "/", "")


def test_a_model_served_by_triton_has_no_local_path_to_check():
    raw = {
        "models": {
            "rm": {
                "kind": "reward_model",
                "backend": "triton",
                "path": "/on/the/triton/host",
                "triton_url": "triton:8001",
                "triton_model": "rm",
            }
        },
        "pipelines": {"p": {"components": {"r": {"model": "rm"}}}},
    }
    assert parse_config(raw, check_paths=True).models["rm"].backend == "triton"


def test_an_invalid_re2_pattern_leaves_no_log_line_on_stderr(tmp_path):
    path = tmp_path / "re2.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": {"fmt": {"type": "regex", "pattern": "a(b"}},
                "pipelines": {"p": {"components": {"a": {"rule": "fmt"}}}},
            }
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "rewardgate", "serve", "--config", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"rewardgate serve: {path}: invalid configuration:",
        "  rules.fmt.pattern: not valid RE2 syntax: missing ): a(b",
    ]


def test_a_broken_file_stops_serve_before_torch_or_transformers_is_imported(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(BROKEN))
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rewardgate", "serve", "--config", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "import time:" in line}
    assert "rewardgate.config.pipeline_file" in imported
    assert not imported & {"torch", "transformers", "grpc", "uvicorn"}
