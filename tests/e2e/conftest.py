"""A running service with a test pipeline file: tiny reward model, MiniLM, rules."""

from pathlib import Path

import pytest
import yaml

from rewardgate.config.settings import default_pipeline_file
from tests.support.openai_server import ScriptedJudgeServer
from tests.support.server import ServiceProcess
from tests.support.tiny_models import build_reward_model


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def default_service(tmp_path_factory):
    """The service on the shipped default pipeline file (rewardgate/defaults/pipelines.yaml)."""
    process = ServiceProcess(default_pipeline_file(), log_path=tmp_path_factory.mktemp("d") / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


@pytest.fixture(scope="session")
def tiny_rm(tmp_path_factory) -> Path:
    return build_reward_model(tmp_path_factory.mktemp("tiny_rm"), num_labels=2)


@pytest.fixture(scope="session")
def sql_dir(tmp_path_factory) -> Path:
    import sqlite3

    root = tmp_path_factory.mktemp("sql")
    with sqlite3.connect(root / "zoo.db") as db:
        db.executescript(
            "CREATE TABLE animals (name TEXT, legs INT);"
            "INSERT INTO animals VALUES ('cat', 4), ('bird', 2), ('snake', 0);"
        )
    return root


@pytest.fixture(scope="session")
def service(tmp_path_factory, tiny_rm, sql_dir):
    workdir = tmp_path_factory.mktemp("service")
    config = write_config(
        workdir / "pipelines.yaml",
        {
            "models": {
                "rm": {
                    "kind": "reward_model",
                    "path": str(tiny_rm),
                    "max_length": 512,
                    "batching": {"max_batch_items": 64, "max_wait_ms": 10},
                },
                "minilm": {"kind": "similarity", "max_length": 128},
            },
            "rules": {
                "math": {"type": "math_verify", "timeout_s": 10},
                "quick_math": {"type": "math_verify", "timeout_s": 1},
                "boxed": {"type": "regex", "pattern": r"\\boxed\{.+\}"},
                "structure": {"type": "think_answer"},
                "overlong": {"type": "overlong_penalty", "max_length": 50, "cache_length": 10},
                "mcq": {"type": "multiple_choice", "choices": "ABCD"},
                "chrf": {"type": "chrf", "timeout_s": 5},
                "person": {
                    "type": "json_schema",
                    "schema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                },
                "tools": {"type": "tool_call"},
                "sql": {"type": "sql_execution", "database_dir": str(sql_dir)},
            },
            "pipelines": {
                "math": {"components": {"correct": {"rule": "math"}}},
                "similarity": {"components": {"sim": {"model": "minilm"}}},
                "rm": {"components": {"helpful": {"model": "rm", "head": "head0"}}},
                "rm_both_heads": {
                    "components": {
                        "a": {"model": "rm", "head": 0},
                        "b": {"model": "rm", "head": "head1"},
                    },
                    "combine": {"weights": {"a": 1.0, "b": 0.5}},
                },
                "mixed": {
                    "components": {
                        "fmt": {"rule": "boxed"},
                        "sim": {"model": "minilm", "required": False},
                    },
                    "combine": {"weights": {"fmt": 1.0, "sim": 0.5}},
                },
                "strict_timeout": {"components": {"correct": {"rule": "quick_math"}}},
                "rlvr": {
                    "components": {
                        "correct": {"rule": "math"},
                        "fmt": {"rule": "structure"},
                        "length": {"rule": "overlong"},
                    },
                    "combine": {"weights": {"correct": 1.0, "fmt": 0.5, "length": 1.0}},
                },
                "tool_use": {"components": {"call": {"rule": "tools"}}},
                "grouped": {
                    "components": {
                        "correct": {"rule": "math", "transform": {"type": "par", "ref": "group_mean"}}
                    }
                },
                "families": {
                    "components": {
                        "mcq": {"rule": "mcq", "required": False},
                        "chrf": {"rule": "chrf", "required": False},
                        "person": {"rule": "person", "required": False},
                        "tools": {"rule": "tools", "required": False},
                        "sql": {"rule": "sql", "required": False},
                    },
                },
            },
        },
    )
    process = ServiceProcess(
        config,
        env={"REWARDGATE_MAX_BODY_BYTES": "200000", "REWARDGATE_MAX_ITEMS_PER_REQUEST": "256"},
        log_path=workdir / "service.log",
    )
    try:
        yield process.wait()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def judge_server():
    """A scripted OpenAI-compatible judge on a real socket (tests/support/openai_server.py)."""
    server = ScriptedJudgeServer().start()
    yield server
    server.stop()
