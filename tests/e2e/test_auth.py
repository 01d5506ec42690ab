"""Bearer API keys on both transports, through the client and the adapters; per-key quotas."""

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rewardgate_client import RewardClient
from rewardgate_client.errors import RewardgateError as ClientError
from rewardgate_client.integrations.verl import make_compute_score
from rewardgate_client.v1 import reward_pb2 as pb
from rewardgate_client.v1 import reward_pb2_grpc

from rewardgate.auth.keys import digest
from rewardgate.config.settings import default_pipeline_file
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow

TRAINER_KEY = "rg_trainer-key-for-tests-0123456789"
LIMITED_KEY = "rg_limited-key-for-tests-9876543210"
ITEM = {"response": "42", "reference": "42"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("auth")
    keys = workdir / "keys"
    keys.write_text(f"# name digest [items/s [burst]]\ntrainer {digest(TRAINER_KEY)}\n")
    env = {
        "REWARDGATE_API_KEYS_FILE": str(keys),
        "REWARDGATE_API_KEYS": f"limited {digest(LIMITED_KEY)} 1 5",
        "REWARDGATE_VERIFIER_WORKERS": "1",
    }
    process = ServiceProcess(default_pipeline_file(), env=env, log_path=workdir / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def score(service, headers=None, path="/v1/score", body=None):
    body = body or {"pipeline": "exact", "items": [ITEM]}
    return httpx.post(service.url + path, json=body, headers=headers or {}, timeout=30)


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Basic dHJhaW5lcg=="}])
def test_scoring_without_a_valid_key_is_401(service, headers):
    reply = score(service, headers)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    assert reply.json()["error"]["type"] == "unauthenticated"


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/v1/pipelines", "/v1/stats"])
def test_docs_and_listing_are_behind_the_key_too(service, path):
    assert httpx.get(service.url + path).status_code == 401
    assert httpx.get(service.url + path, headers=bearer(TRAINER_KEY)).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_the_scraper_need_no_key(service, path):
    assert httpx.get(service.url + path).status_code == 200


def test_a_valid_key_scores(service):
    reply = score(service, bearer(TRAINER_KEY))
    assert reply.status_code == 200 and reply.json()["results"][0]["reward"] == 1.0


def test_compat_routes_take_the_key_in_the_query_and_keep_it_out_of_the_log(service):
    body = {"query": ["Q: 42"], "prompts": ["Q: "], "labels": ["42"]}
    assert score(service, path="/get_reward?pipeline=exact", body=body).status_code == 401
    reply = score(service, path=f"/get_reward?pipeline=exact&api_key={TRAINER_KEY}", body=body)
    assert reply.status_code == 200 and reply.json()["rewards"] == [1.0]
    slime = {"prompt": "Q: ", "response": "42", "label": "42"}
    reply = score(service, path=f"/slime/reward?pipeline=exact&api_key={TRAINER_KEY}", body=slime)
    assert reply.status_code == 200 and reply.json() == 1.0
    assert "api_key=REDACTED" in service.log()


def test_grpc_needs_the_key_in_metadata_and_health_stays_open(service):
    def refusals() -> float:
        return service.metric("rewardgate_requests_total", route="grpc:Score", status="401")

    refused_before = refusals()
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = reward_pb2_grpc.RewardServiceStub(channel)
        request = pb.ScoreRequest(pipeline="exact", items=[pb.Item(response="42", reference="42")])
        with pytest.raises(grpc.RpcError) as refused:
            stub.Score(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert refusals() == refused_before + 1  # counted, though refused before the method ran
        assert "grpc-status-details-bin" in dict(refused.value.trailing_metadata())
        reply = stub.Score(request, timeout=10, metadata=(("authorization", f"Bearer {TRAINER_KEY}"),))
        assert reply.results[0].reward == 1.0
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_the_client_passes_the_key_given_or_from_the_environment(service, scheme, monkeypatch):
    url = service.url if scheme == "http" else f"grpc://{service.grpc_target}"
    with RewardClient(url, api_key=TRAINER_KEY) as client:
        assert client.score([ITEM], pipeline="exact")[0].reward == 1.0
    with RewardClient(url) as client, pytest.raises(ClientError) as refused:
        client.score([ITEM], pipeline="exact")
    assert refused.value.error_type == "unauthenticated"
    monkeypatch.setenv("REWARDGATE_API_KEY", TRAINER_KEY)
    with RewardClient(url) as client:
        assert client.score([ITEM], pipeline="exact")[0].reward == 1.0


def test_trainer_adapters_take_the_key_from_the_environment(service, monkeypatch):
    monkeypatch.setenv("REWARDGATE_API_KEY", TRAINER_KEY)
    compute_score, _, _ = make_compute_score(service.url, default_pipeline="exact")
    assert compute_score("any", "42", "42")["score"] == 1.0


def test_a_key_over_its_quota_gets_429_with_retry_after(service):
    body = {"pipeline": "exact", "items": [dict(ITEM, id=str(i)) for i in range(5)]}
    assert score(service, bearer(LIMITED_KEY), body=body).status_code == 200  # the burst of 5
    reply = score(service, bearer(LIMITED_KEY), body=body)
    assert reply.status_code == 429 and reply.json()["error"]["type"] == "overloaded"
    assert int(reply.headers["retry-after"]) >= 1
    assert score(service, bearer(TRAINER_KEY), body=body).status_code == 200  # other keys unaffected


def test_keys_never_appear_in_logs_or_metrics(service):
    score(service, bearer(TRAINER_KEY))
    score(service, bearer("a-wrong-key-0000"))
    metrics = httpx.get(service.url + "/metrics").text
    assert 'rewardgate_auth_failures_total{reason="invalid",transport="http"}' in metrics
    for secret in (TRAINER_KEY, LIMITED_KEY, "a-wrong-key-0000"):
        assert secret not in metrics and secret not in service.log()
