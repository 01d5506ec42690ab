"""rewardgate_client against the running service, over HTTP and gRPC."""

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rewardgate_client import (
    AsyncRewardClient,
    InvalidInput,
    Item,
    PayloadTooLarge,
    PipelineNotFound,
    RewardClient,
)

ITEMS = [
    {"prompt": "1+1?", "response": "\\boxed{2}", "reference": "2"},
    Item(response="\\boxed{3}", reference="2", prompt="1+1?"),
    {"response": "\\boxed{x}", "reference": "???"},  # an item error, not a call failure
]


@pytest.fixture(params=["http", "grpc"])
def url(request, service):
    return service.url if request.param == "http" else f"grpc://{service.grpc_target}"


def test_score_over_both_transports(url):
    with RewardClient(url) as client:
        results = client.score(ITEMS, pipeline="math")
    assert [r.id for r in results] == ["0", "1", "2"]
    assert [r.reward for r in results[:2]] == [1.0, 0.0]
    assert results[2].status == "error" and results[2].reward is None
    assert results[2].errors["correct"].type == "invalid_reference"
    assert results[0].components == {"correct": 1.0} and results[0].pipeline_hash.startswith("sha256:")


def test_http_and_grpc_give_identical_results(service):
    items = [{"prompt": "Hi", "response": f"reply number {i}"} for i in range(20)]
    with RewardClient(service.url) as http, RewardClient(f"grpc://{service.grpc_target}") as rpc:
        over_http = http.score(items, pipeline="rm_both_heads", explain=True)
        over_grpc = rpc.score(items, pipeline="rm_both_heads", explain=True)
    assert all(r.cached == [] for r in over_http) and all(r.cached == ["a", "b"] for r in over_grpc)
    for result in over_grpc:
        result.cached = []  # the second transport is served from the cache: the same numbers
    assert over_http == over_grpc


def test_large_lists_are_chunked_and_keep_their_order(url):
    items = [{"response": f"\\boxed{{{i}}}", "reference": str(i % 7)} for i in range(300)]
    with RewardClient(url, chunk_size=32, max_concurrency=4) as client:
        results = client.score(items, pipeline="math")
    assert [r.id for r in results] == [str(i) for i in range(300)]
    assert [r.reward for r in results] == [1.0 if i == i % 7 else 0.0 for i in range(300)]


def test_typed_errors_are_raised_without_retries(url):
    with RewardClient(url) as client:
        with pytest.raises(PipelineNotFound):
            client.score(ITEMS, pipeline="nope")
        with pytest.raises(InvalidInput, match="nope"):
            client.score(ITEMS, pipeline="math", weights={"nope": 1.0})
        with pytest.raises(PayloadTooLarge):
            client.score([{"response": "x" * 300_000}], pipeline="math")  # over the body/message limit


def test_compare_and_pipelines(url):
    with RewardClient(url) as client:
        (pair,) = client.compare(
            [{"prompt": "p", "response_a": "\\boxed{2}", "response_b": "\\boxed{3}", "reference": "2"}],
            pipeline="math",
        )
        listing = {p["name"]: p for p in client.pipelines()}
    assert pair.a.reward == 1.0 and pair.b.reward == 0.0
    assert pair.probability == pytest.approx(1 / (1 + 2.718281828459045**-1))
    assert listing["math"]["components"]["correct"]["source"] == "rule:math"


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_stream_items_come_back_complete_each_with_its_id(service, transport):
    url = service.url if transport == "http" else f"grpc://{service.grpc_target}"

    async def trickle():
        for i in range(40):
            if i % 10 == 0:
                await asyncio.sleep(0.02)  # items arrive as generation finishes
            yield {"id": f"s{i}", "response": f"\\boxed{{{i}}}", "reference": str(i)}

    async with AsyncRewardClient(url) as client:
        answers = [answer async for answer in client.stream(trickle(), pipeline="math")]
    assert sorted(a.id for a in answers) == sorted(f"s{i}" for i in range(40))
    assert all(a.reward == 1.0 for a in answers)


async def test_stream_reports_a_failed_item_and_continues(service):
    from rewardgate_client.v1 import reward_pb2 as pb
    from rewardgate_client.v1.reward_pb2_grpc import RewardServiceStub

    async def requests():
        yield pb.StreamRequest(pipeline="math", item=pb.Item(id="ok", response="\\boxed{1}", reference="1"))
        yield pb.StreamRequest(pipeline="nope", item=pb.Item(id="lost", response="x"))
        yield pb.StreamRequest(pipeline="math", item=pb.Item(id="ok2", response="\\boxed{2}", reference="2"))

    async with grpc.aio.insecure_channel(service.grpc_target) as channel:
        answers = {a.id: a async for a in RewardServiceStub(channel).ScoreStream(requests(), timeout=30)}
    assert answers["ok"].result.reward == 1.0 and answers["ok2"].result.reward == 1.0
    assert answers["lost"].error.type == "pipeline_not_found" and not answers["lost"].HasField("result")


async def test_a_stream_of_bursts_is_answered_in_bursts(service):
    from rewardgate_client.v1 import reward_pb2 as pb
    from rewardgate_client.v1.reward_pb2_grpc import RewardServiceStub

    def item(i, reference):
        return pb.Item(id=f"b{i}", response=f"\\boxed{{{i}}}", reference=reference)

    async def requests():
        yield pb.StreamRequest(pipeline="math", items=[item(i, str(i)) for i in range(64)])
        yield pb.StreamRequest(pipeline="math", items=[item(64, "64"), item(65, "see the book")])

    async with grpc.aio.insecure_channel(service.grpc_target) as channel:
        replies = [r async for r in RewardServiceStub(channel).ScoreStream(requests(), timeout=30)]
    assert all(r.batch and not r.id for r in replies)  # one message per scored micro-batch
    answers = {a.id: a for r in replies for a in r.batch}
    assert sorted(answers) == sorted(f"b{i}" for i in range(66))
    assert all(answers[f"b{i}"].result.reward == 1.0 for i in range(65))
    assert answers["b65"].result.status == "error"  # a failed item is still that item's answer


async def test_the_client_streams_a_ready_list_in_bursts(service):
    items = [{"id": f"l{i}", "response": f"\\boxed{{{i}}}", "reference": str(i)} for i in range(300)]
    async with AsyncRewardClient(f"grpc://{service.grpc_target}", chunk_size=64) as client:
        answers = [a async for a in client.stream(items, pipeline="math")]
    assert sorted(a.id for a in answers) == sorted(f"l{i}" for i in range(300))
    assert all(a.reward == 1.0 for a in answers)


async def test_grpc_health_and_reflection(service):
    async with grpc.aio.insecure_channel(service.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "rewardgate.v1.RewardService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def ask():
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        async for reply in stub.ServerReflectionInfo(ask(), timeout=5):
            names = {s.name for s in reply.list_services_response.service}
            assert "rewardgate.v1.RewardService" in names and "grpc.health.v1.Health" in names
            break


async def test_grpc_deadline_bounds_the_request(service):
    from rewardgate_client import DeadlineExceeded

    async with AsyncRewardClient(f"grpc://{service.grpc_target}", timeout_s=0.5) as client:
        with pytest.raises(DeadlineExceeded):
            # math-verify hangs on this; the 0.5 s call deadline, not the rule's 10 s, ends it
            await client.score([{"response": "\\boxed{9^{9^{9^{9}}}}", "reference": "1"}], pipeline="math")


async def test_grpc_health_is_not_serving_while_a_source_is_not_ready(tmp_path):
    from tests.e2e.conftest import write_config
    from tests.support.server import ServiceProcess

    broken = tmp_path / "not-a-model"  # a model directory whose model cannot load
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    config = write_config(
        tmp_path / "pipelines.yaml",
        {
            "models": {"rm": {"kind": "reward_model", "path": str(broken)}},
            "pipelines": {"rm": {"components": {"r": {"model": "rm"}}}},
        },
    )
    process = ServiceProcess(config, log_path=tmp_path / "log").wait("/healthz")
    try:
        async with grpc.aio.insecure_channel(process.grpc_target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(50):  # the status is refreshed every 0.5 s
                reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
                if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    break
                await asyncio.sleep(0.2)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        process.stop()
