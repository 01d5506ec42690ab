"""Two replicas (two service processes): a group's samples, spread over both by the
caller or by gRPC's round robin, are forwarded to the replica owning the group and
get the rewards the whole group gets in one request."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from rewardgate_client import RewardClient

from rewardgate.groups.peers import owner_of
from tests.e2e.conftest import write_config
from tests.e2e.test_groups_e2e import PIPELINES, by_id, group_items
from tests.support.server import ServiceProcess, free_ports

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("replicas")
    config = write_config(workdir / "pipelines.yaml", PIPELINES)
    http_a, http_b, grpc_a, grpc_b = free_ports(4)
    peers = f"http://127.0.0.1:{http_a},http://127.0.0.1:{http_b}"
    env = {"REWARDGATE_GROUP_PEERS": peers, "REWARDGATE_GROUP_WAIT_MS": "20000"}
    pods = [
        ServiceProcess(config, env=env, port=http, grpc_port=grpc, log_path=workdir / f"log{i}")
        for i, (http, grpc) in enumerate(((http_a, grpc_a), (http_b, grpc_b)))
    ]
    try:
        yield [pod.wait() for pod in pods]
    finally:
        for pod in pods:
            pod.stop()


def post(pod, items, **options):
    body = {"pipeline": "ttrl", "items": items, "options": options}
    return httpx.post(pod.url + "/v1/score", json=body, timeout=60)


def test_samples_spread_over_two_replicas_meet_at_the_owner(replicas):
    peers = [pod.url for pod in replicas]
    # Three groups owned by each replica (ownership hashes the id over the peers' random ports).
    candidates = [f"spread-{n}" for n in range(200)]
    group_ids = [g for peer in peers for g in [c for c in candidates if owner_of(c, peers) == peer][:3]]
    assert len(group_ids) == 6 and {owner_of(g, peers) for g in group_ids} == set(peers)
    whole = {g: by_id(post(replicas[0], group_items(g + "-whole")).json()["results"]) for g in group_ids}
    jobs = [(replicas[i % 2], item) for g in group_ids for i, item in enumerate(group_items(g))]
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda job: (job[1]["group"]["id"], post(job[0], [job[1]])), jobs))
    split: dict[str, dict] = {g: {} for g in group_ids}
    for group_id, reply in replies:
        assert reply.status_code == 200, reply.text
        split[group_id].update(by_id(reply.json()["results"]))
    for group_id in group_ids:
        assert split[group_id] == whole[group_id], group_id
    # each group was scored once, at one replica: one vote per group, whole or split
    votes = sum(
        pod.metric("rewardgate_group_votes_total", pipeline="ttrl", component="vote") for pod in replicas
    )
    assert votes == 2 * len(group_ids)
    assert sum(pod.metric("rewardgate_groups_open") for pod in replicas) >= len(group_ids)


def test_grpc_round_robin_over_two_replicas_matches_the_whole_group(replicas):
    whole = by_id(post(replicas[1], group_items("rr-whole")).json()["results"])
    target = "grpc://ipv4:" + ",".join(pod.grpc_target for pod in replicas)
    with RewardClient(target) as client, ThreadPoolExecutor(8) as pool:
        # round_robin only picks connected subchannels: a few calls first, so both are ready.
        for _ in range(4):
            client.pipelines()
        results = list(pool.map(lambda item: client.score([item], "ttrl")[0], group_items("rr")))
    assert {r.id: (r.status, r.reward, r.components) for r in results} == whole
    served = [pod.metric("rewardgate_requests_total", route="grpc:Score", status="200") for pod in replicas]
    assert min(served) >= 1, served  # the calls did land on both replicas


def test_an_owner_that_is_down_is_a_retryable_503(tmp_path):
    config = write_config(tmp_path / "pipelines.yaml", PIPELINES)
    (http_self, dead) = free_ports(2)
    group_id = next(
        f"g{n}"
        for n in range(100)
        if owner_of(f"g{n}", [f"http://127.0.0.1:{http_self}", f"http://127.0.0.1:{dead}"])
        == f"http://127.0.0.1:{dead}"
    )
    env = {"REWARDGATE_GROUP_PEERS": f"http://127.0.0.1:{http_self},http://127.0.0.1:{dead}"}
    pod = ServiceProcess(config, env=env, port=http_self, log_path=tmp_path / "log").wait()
    try:
        reply = post(pod, group_items(group_id)[:1])
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"]["retryable"] is True
    finally:
        pod.stop()
