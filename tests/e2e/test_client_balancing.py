"""The gRPC client spreads calls over every address a target resolves to (a headless Service)."""

import pytest
from rewardgate_client import RewardClient

from rewardgate.config.settings import default_pipeline_file
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow


def test_grpc_calls_spread_round_robin_over_all_resolved_pods():
    pods = [
        ServiceProcess(default_pipeline_file(), env={"REWARDGATE_CACHE_MAX_ENTRIES": "0"}) for _ in range(2)
    ]
    try:
        for pod in pods:
            pod.wait()
        # What DNS gives for a headless Service: several addresses behind one name.
        target = "grpc://ipv4:" + ",".join(pod.grpc_target for pod in pods)
        with RewardClient(target) as client:
            for index in range(20):
                item = {"response": str(index), "reference": str(index)}
                assert client.score([item], pipeline="exact")[0].reward == 1.0
        served = [pod.metric("rewardgate_requests_total", route="grpc:Score", status="200") for pod in pods]
        assert sum(served) == 20 and min(served) >= 5, served
    finally:
        for pod in pods:
            pod.stop()
