"""Settings from the environment: a bad value names its variable; a variable nothing reads is
reported with the closest known name; the HTTP and gRPC ports cannot be the same."""

import re

import pytest

from rewardgate.config.environment import OTHER_VARIABLES, load_settings, unknown_variables
from rewardgate.errors import ConfigError
from tests.support.server import REPO_ROOT


def settings_error(monkeypatch, overrides=None, options=None, **environ) -> str:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides, options)
    return caught.value.message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REWARDGATE_PORT", "abc"),
        ("REWARDGATE_MAX_BODY_BYTES", "-1"),
        ("REWARDGATE_ACCESS_LOG", "maybe"),
        ("REWARDGATE_LOG_LEVEL", "loud"),
        ("REWARDGATE_REDIS_URL", "localhost:6379"),
    ],
)
def test_a_bad_environment_value_names_its_variable_and_value(monkeypatch, variable, value):
    message = settings_error(monkeypatch, **{variable: value})
    assert f"{variable}={value!r}" in message
    assert "Settings" not in message and "validation error" not in message  # not pydantic's wording


def test_a_bad_option_names_the_option_not_the_variable(monkeypatch):
    message = settings_error(monkeypatch, {"config_path": 3.5j}, {"config_path": "--config"})
    assert message.splitlines()[1].strip().startswith("--config")


def test_settings_checked_together_name_both_variables(monkeypatch):
    message = settings_error(
        monkeypatch, REWARDGATE_DEFAULT_DEADLINE_MS="5000", REWARDGATE_MAX_DEADLINE_MS="1000"
    )
    assert "REWARDGATE_DEFAULT_DEADLINE_MS (5000)" in message
    assert "REWARDGATE_MAX_DEADLINE_MS (1000)" in message


def test_the_http_and_grpc_ports_cannot_be_the_same(monkeypatch):
    message = settings_error(monkeypatch, {"port": 9000, "grpc_port": 9000})
    assert "REWARDGATE_GRPC_PORT" in message and "both 9000" in message
    assert load_settings({"port": 9000, "grpc_port": 0}).grpc_port == 0  # 0: no gRPC server


def test_a_misspelled_variable_is_reported_with_the_name_it_meant():
    environ = {"REWARDGATE_REDIS_ULR": "redis://x", "REWARDGATE_PORT": "8000", "HOME": "/root"}
    (message,) = unknown_variables(environ)
    assert "REWARDGATE_REDIS_ULR" in message and "did you mean REWARDGATE_REDIS_URL?" in message


def test_names_are_compared_whatever_their_case_as_settings_are_read():
    (message,) = unknown_variables({"rewardgate_redis_ulr": "redis://x", "rewardgate_port": "8000"})
    assert "rewardgate_redis_ulr" in message and "did you mean REWARDGATE_REDIS_URL?" in message


def test_a_variable_unlike_any_setting_is_reported_without_a_guess():
    (message,) = unknown_variables({"REWARDGATE_SOMETHING_ELSE_ENTIRELY": "1"})
    assert "REWARDGATE_SOMETHING_ELSE_ENTIRELY" in message and "did you mean" not in message


def test_client_variables_and_named_judge_keys_are_known():
    environ = {name: "x" for name in OTHER_VARIABLES} | {"REWARDGATE_JUDGE_KEY": "secret"}
    assert unknown_variables(environ, also_known={"REWARDGATE_JUDGE_KEY"}) == []


def test_every_variable_the_client_reads_is_known_to_the_server_check():
    sources = (REPO_ROOT / "clients" / "rewardgate_client").rglob("*.py")
    read = {name for path in sources for name in re.findall(r"REWARDGATE_[A-Z0-9_]+", path.read_text())}
    assert read - {"REWARDGATE_API_KEYS"} <= OTHER_VARIABLES
