"""The sandbox service's settings: each documented, each read from its environment variable."""

import pytest

from rewardgate.sandbox_service.settings import SandboxServiceSettings
from tests.support.server import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("name", list(SandboxServiceSettings.model_fields))
def test_every_sandbox_service_setting_is_documented(name):
    assert f"`REWARDGATE_SANDBOX_SERVICE_{name.upper()}`" in DOC


def test_settings_come_from_the_prefixed_environment(monkeypatch):
    monkeypatch.setenv("REWARDGATE_SANDBOX_SERVICE_WORKERS", "3")
    monkeypatch.setenv("REWARDGATE_SANDBOX_SERVICE_MAX_QUEUE", "0")
    monkeypatch.setenv("REWARDGATE_WORKERS", "9")  # another prefix: not ours
    settings = SandboxServiceSettings()
    assert (settings.workers, settings.max_queue, settings.port) == (3, 0, 8100)
