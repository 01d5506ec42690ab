"""A restart of the service in the middle of a trainer's reward step costs latency, not the run."""

import threading
import time

import pytest
from rewardgate_client import RewardClient

from rewardgate.config.settings import default_pipeline_file
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_a_call_made_while_the_service_restarts_gets_its_answer(scheme):
    first = ServiceProcess(default_pipeline_file()).wait()
    url = first.url if scheme == "http" else f"grpc://{first.grpc_target}"
    replacement: list[ServiceProcess] = []

    def restart_later():
        time.sleep(3)  # refused connections meanwhile
        replacement.append(
            ServiceProcess(default_pipeline_file(), port=first.port, grpc_port=first.grpc_port)
        )

    restarter = threading.Thread(target=restart_later)
    try:
        with RewardClient(url) as client:  # default retry policy, as the adapters use it
            assert client.score([{"response": "a", "reference": "a"}], pipeline="exact")[0].reward == 1.0
            first.stop()
            restarter.start()
            result = client.score([{"response": "b", "reference": "b"}], pipeline="exact")
        assert result[0].reward == 1.0
    finally:
        if restarter.is_alive():
            restarter.join()  # even when the call failed: the replacement must not outlive the test
        first.stop()
        for process in replacement:
            process.stop()
