"""Every metric the dashboard and the Prometheus rules query is one a running service exports."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from rewardgate.config.settings import default_pipeline_file
from tests.support.server import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "helm" / "rewardgate" / "files"
METRIC = re.compile(r"\brewardgate_[a-z_]+\b")
SUFFIXES = ("_bucket", "_sum", "_count")

pytestmark = pytest.mark.slow


def dashboard_queries() -> list[str]:
    dashboard = json.loads((FILES / "dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def rule_queries() -> list[str]:
    groups = yaml.safe_load((FILES / "rules.yaml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def base_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> set[str]:
    """Metric families a freshly started service exports (HELP/TYPE lines appear before any sample)."""
    service = ServiceProcess(
        default_pipeline_file(), log_path=tmp_path_factory.mktemp("metrics") / "log"
    ).wait()
    try:
        body = {"pipeline": "math", "items": [{"response": "\\boxed{1}", "reference": "1"}]}
        httpx.post(service.url + "/v1/score", json=body, timeout=30).raise_for_status()
        text = httpx.get(service.url + "/metrics", timeout=10).text
    finally:
        service.stop()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def counter_family(name: str) -> str:
    return name.removesuffix("_total")


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_every_queried_metric_is_exported(exported, source):
    queries = dashboard_queries() if source == "dashboard" else rule_queries()
    names = {base_name(name) for query in queries for name in METRIC.findall(query)}
    assert names, "no metric found in the queries"
    # prometheus_client's TYPE line names counters without their _total suffix.
    missing = sorted(n for n in names if n not in exported and counter_family(n) not in exported)
    assert missing == [], f"queried but not exported: {missing}"


def test_the_dashboard_file_is_what_its_generator_writes():
    sys.path.insert(0, str(ROOT / "deploy" / "grafana"))
    import make_dashboard

    assert (FILES / "dashboard.json").read_text() == make_dashboard.render()
