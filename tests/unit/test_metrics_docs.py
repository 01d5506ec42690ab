"""docs/architecture.md lists every metric the service exports."""

from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from rewardgate.observability.metrics import Metrics

DOC = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()


def test_every_metric_is_documented():
    metrics = Metrics()
    names = [m._name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    assert names
    for name in names:
        documented = name if f"`{name}`" in DOC else f"{name}_total"
        assert f"`{documented}`" in DOC, name
