"""deploy/compose.yaml: every file it mounts exists, and its Prometheus config and rules pass promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_stack_has_its_services_and_every_mounted_file_exists():
    services = COMPOSE["services"]
    assert {"gateway", "redis", "prometheus", "grafana", "triton"} <= set(services)
    assert services["gateway"]["build"]["context"] == ".."
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool comes with Debian's prometheus package"
)
def test_prometheus_config_and_rules_check(tmp_path):
    """Lay the mounts out as the container sees them and let promtool check config and rules."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    rules = tmp_path / "rules.yaml"
    shutil.copy(DEPLOY.parent / "helm" / "rewardgate" / "files" / "rules.yaml", rules)
    config["rule_files"] = [str(rules)]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
