"""Both transports in this process, in front of one RewardCore built by build_core.

HTTP through the app's ASGI interface (no socket), gRPC through a grpc.aio
server on a real local socket; the same calls give the same answers as the
façade itself, and bad input is the same typed error on both (422 /
INVALID_ARGUMENT, 404 / NOT_FOUND), never a 500 or UNKNOWN.
"""

from __future__ import annotations

import asyncio
import math

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rewardgate_client.v1 import reward_pb2 as pb
from rewardgate_client.v1 import reward_pb2_grpc

from rewardgate.api.context import AppContext
from rewardgate.api.grpc.server import start_grpc_server, stop_grpc_server
from rewardgate.api.http.app import create_app
from rewardgate.assembly import build_core
from rewardgate.auth.keys import KeyRing
from rewardgate.config.pipeline_file import parse_config
from rewardgate.config.settings import Settings
from rewardgate.core.calls import CallItem, CompareCall, CompareOptions, PairCall, ScoreCall
from rewardgate.items import ScoringItem
from tests.support.server import free_port

CONFIG = {
    "rules": {"exact": {"type": "exact_match"}, "has_paris": {"type": "contains"}},
    "pipelines": {
        "exact": {
            "components": {"match": {"rule": "exact"}, "mention": {"rule": "has_paris"}},
            "combine": {"weights": {"match": 1.0, "mention": 0.5}},
        }
    },
}
ITEMS = [
    {"id": "right", "prompt": "Capital of France?", "response": "Paris", "reference": "Paris"},
    {"id": "wrong", "prompt": "Capital of France?", "response": "Lyon", "reference": "Paris"},
    {"id": "near", "prompt": "Capital of France?", "response": "Paris, surely", "reference": "Paris"},
]


@pytest.fixture
async def served():
    """(core, HTTP client, gRPC stub, gRPC channel) over one core."""
    settings = Settings(grpc_port=0)
    core = build_core(settings, parse_config(CONFIG))
    app = create_app(settings, core=core)
    port = free_port()
    async with app.router.lifespan_context(app):
        server = await start_grpc_server(
            app.state.context, port, "127.0.0.1", 1 << 20, KeyRing.load(None, None)
        )
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://rg") as http,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            yield core, http, reward_pb2_grpc.RewardServiceStub(channel), channel
        await stop_grpc_server(server, 0)


def test_the_app_context_holds_the_core_and_nothing_behind_it():
    fields = set(AppContext.__dataclass_fields__)
    assert fields == {"settings", "metrics", "core", "on_counted"}


async def test_score_is_the_same_through_the_core_http_and_grpc(served):
    core, http, stub, _ = served
    call = ScoreCall(
        "exact",
        [CallItem(i["id"], ScoringItem(i["prompt"], i["response"], i["reference"], {})) for i in ITEMS],
    )
    direct, _ = await core.score(call)
    expected = {r.id: r.reward for r in direct.results}
    assert expected == {"right": 1.5, "wrong": 0.0, "near": 0.5}

    reply = await http.post("/v1/score", json={"pipeline": "exact", "items": ITEMS})
    assert reply.status_code == 200
    assert {r["id"]: r["reward"] for r in reply.json()["results"]} == expected
    assert {"x-queue-time", "x-inference-time", "x-total-time"} <= set(reply.headers)

    message = pb.ScoreRequest(
        pipeline="exact",
        items=[
            pb.Item(id=i["id"], prompt=i["prompt"], response=i["response"], reference=i["reference"])
            for i in ITEMS
        ],
    )
    answer = await stub.Score(message)
    assert {r.id: r.reward for r in answer.results} == expected


async def test_compare_is_the_same_on_both_transports(served):
    core, http, stub, _ = served
    pair = {
        "id": "p",
        "prompt": "Capital of France?",
        "response_a": "Paris",
        "response_b": "Lyon",
        "reference": "Paris",
    }
    direct, _ = await core.compare(
        CompareCall(
            "exact",
            [
                PairCall(
                    "p",
                    ScoringItem(pair["prompt"], "Paris", "Paris"),
                    ScoringItem(pair["prompt"], "Lyon", "Paris"),
                )
            ],
            CompareOptions(beta=2.0),
        )
    )
    probability = direct.results[0].probability
    assert probability == pytest.approx(1 / (1 + math.exp(-3.0)))

    reply = await http.post(
        "/v1/compare", json={"pipeline": "exact", "pairs": [pair], "options": {"beta": 2.0}}
    )
    assert reply.status_code == 200
    assert reply.json()["results"][0]["probability"] == pytest.approx(probability)

    message = pb.CompareRequest(
        pipeline="exact",
        pairs=[
            pb.ComparePair(
                id="p", prompt=pair["prompt"], response_a="Paris", response_b="Lyon", reference="Paris"
            )
        ],
        options=pb.CompareOptions(beta=2.0),
    )
    answer = await stub.Compare(message)
    assert answer.results[0].probability == pytest.approx(probability)
    assert (answer.results[0].a.reward, answer.results[0].b.reward) == (1.5, 0.0)


async def test_pipelines_are_listed_from_the_core_on_both_transports(served):
    core, http, stub, _ = served
    (info,) = core.pipelines()
    assert (info.name, info.ready, sorted(info.components)) == ("exact", True, ["match", "mention"])
    body = (await http.get("/v1/pipelines")).json()
    assert body["pipelines"][0]["hash"] == info.hash
    assert body["pipelines"][0]["components"]["mention"]["weight"] == 0.5
    listed = await stub.ListPipelines(pb.ListPipelinesRequest())
    assert listed.pipelines[0].hash == info.hash
    assert listed.pipelines[0].components["match"].source == "rule:exact"


@pytest.mark.parametrize(
    ("body", "message", "status", "code", "names"),
    [
        (
            {"pipeline": "nope", "items": ITEMS[:1]},
            pb.ScoreRequest(pipeline="nope", items=[pb.Item(response="x")]),
            404,
            grpc.StatusCode.NOT_FOUND,
            "nope",
        ),
        (
            {"pipeline": "exact", "items": [{"prompt": "p"}]},
            pb.ScoreRequest(
                pipeline="exact", items=[pb.Item(response="x")], options=pb.ScoreOptions(deadline_ms=0)
            ),
            422,
            grpc.StatusCode.INVALID_ARGUMENT,
            None,
        ),
    ],
)
async def test_score_errors_are_typed_on_both_transports(served, body, message, status, code, names):
    _, http, stub, _ = served
    reply = await http.post("/v1/score", json=body)
    assert reply.status_code == status
    assert set(reply.json()["error"]) == {"type", "message", "retryable"}
    if names:
        assert names in reply.json()["error"]["message"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Score(message)
    assert raised.value.code() == code


@pytest.mark.parametrize(
    ("options", "pairs", "field"),
    [
        ({"beta": 0.0}, 1, "beta"),
        ({"beta": -1.0}, 1, "beta"),
        ({"deadline_ms": 0}, 1, "deadline_ms"),
        ({}, 0, "pairs"),
    ],
)
async def test_compare_input_errors_name_the_field_on_both_transports(served, options, pairs, field):
    _, http, stub, _ = served
    pair = {"prompt": "q", "response_a": "a", "response_b": "b"}
    reply = await http.post(
        "/v1/compare", json={"pipeline": "exact", "pairs": [pair] * pairs, "options": options}
    )
    assert reply.status_code == 422
    assert field in reply.json()["error"]["message"]
    message = pb.CompareRequest(
        pipeline="exact",
        pairs=[pb.ComparePair(prompt="q", response_a="a", response_b="b")] * pairs,
        options=pb.CompareOptions(**options),
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Compare(message)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in raised.value.details()


async def test_compare_chat_prompt_is_validated_by_the_shared_message_model(served):
    _, http, stub, _ = served
    bad = pb.ComparePair(
        messages=[pb.ChatMessage(role="user", content="x", parts=[pb.ContentPart(type="text", text="y")])],
        response_a="a",
        response_b="b",
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Compare(pb.CompareRequest(pipeline="exact", pairs=[bad]))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    good = pb.ComparePair(
        messages=[pb.ChatMessage(role="user", content="Capital of France?")],
        response_a="Paris",
        response_b="Lyon",
        reference="Paris",
    )
    answer = await stub.Compare(pb.CompareRequest(pipeline="exact", pairs=[good]))
    http_answer = await http.post(
        "/v1/compare",
        json={
            "pipeline": "exact",
            "pairs": [
                {
                    "prompt": [{"role": "user", "content": "Capital of France?"}],
                    "response_a": "Paris",
                    "response_b": "Lyon",
                    "reference": "Paris",
                }
            ],
        },
    )
    assert answer.results[0].probability == pytest.approx(http_answer.json()["results"][0]["probability"])


async def test_drain_turns_both_transports_not_ready(served):
    core, http, _, channel = served
    assert (await http.get("/readyz")).status_code == 200
    core.begin_drain()
    ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert "draining" in ready.json()["detail"]["service"]
    assert core.readiness()["service"].startswith("draining")
    health = health_pb2_grpc.HealthStub(channel)
    for _ in range(20):  # the health reporter looks every 0.5 s
        status = (await health.Check(health_pb2.HealthCheckRequest(service=""))).status
        if status == health_pb2.HealthCheckResponse.NOT_SERVING:
            break
        await asyncio.sleep(0.25)
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_stats_come_from_the_core(served):
    core, http, _, _ = served
    await http.post("/v1/score", json={"pipeline": "exact", "items": ITEMS})
    assert (await http.get("/v1/stats")).json()["pipelines"].keys() == core.stats().as_json()[
        "pipelines"
    ].keys()
    missing = await http.get("/v1/stats", params={"pipeline": "nope"})
    assert missing.status_code == 404
