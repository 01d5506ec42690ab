"""Error envelopes, limits, compat route, discovery and operational endpoints."""

import httpx
import pytest

pytestmark = pytest.mark.slow


def post(service, path, **kwargs):
    return httpx.post(service.url + path, timeout=60, **kwargs)


def assert_envelope(response, status, error_type, retryable=False, mentions=""):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == error_type
    assert error["retryable"] is retryable
    assert mentions in error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"pipeline": "math", "items": [{"prompt": "no response"}]}, "items.0.response"),
        ({"pipeline": "math", "items": []}, "items"),
        ({"items": [{"response": "x"}]}, "pipeline"),
        ({"pipeline": "math", "items": [{"response": 5}]}, "items.0.response"),
        ({"pipeline": "math", "items": [{"response": "x", "colour": "red"}]}, "items.0.colour"),
        ({"pipeline": "math", "items": [{"response": "x"}], "options": {"deadline_ms": -5}}, "deadline_ms"),
        (
            {"pipeline": "math", "items": [{"id": "1", "response": "a"}, {"id": "1", "response": "b"}]},
            "items[].id",
        ),
    ],
)
def test_invalid_input_is_422_naming_the_field(service, body, mentions):
    assert_envelope(post(service, "/v1/score", json=body), 422, "invalid_input", mentions=mentions)


def test_malformed_json_is_422_not_500(service):
    response = post(
        service,
        "/v1/score",
        content=b'{"pipeline": "math", "items": [',
        headers={"content-type": "application/json"},
    )
    assert_envelope(response, 422, "invalid_input")


def test_unknown_pipeline_is_404_listing_known_ones(service):
    response = post(service, "/v1/score", json={"pipeline": "nope", "items": [{"response": "x"}]})
    assert_envelope(response, 404, "pipeline_not_found", mentions="math")


def test_oversized_body_is_413(service):
    big = {"pipeline": "math", "items": [{"response": "x" * 250_000, "reference": "1"}]}
    assert_envelope(post(service, "/v1/score", json=big), 413, "payload_too_large")


def test_oversized_chunked_body_is_413(service):
    def chunks():
        yield b'{"pipeline": "math", "items": [{"response": "'
        for _ in range(30):
            yield b"y" * 10_000
        yield b'"}]}'

    response = post(service, "/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert_envelope(response, 413, "payload_too_large")


def test_too_many_items_is_413(service):
    items = [{"response": "1", "reference": "1"}] * 257
    assert_envelope(
        post(service, "/v1/score", json={"pipeline": "math", "items": items}),
        413,
        "payload_too_large",
        mentions="257 items",
    )


def test_unknown_route_and_wrong_method_use_the_envelope(service):
    assert_envelope(post(service, "/v1/nothing", json={}), 404, "not_found")
    response = httpx.get(service.url + "/v1/score", timeout=10)
    assert_envelope(response, 405, "method_not_allowed")


def test_openrlhf_get_reward_protocol(service):
    prompts = ["<|user|>What is 1+1?<|assistant|>", "<|user|>What is 2+2?<|assistant|>"]
    responses = ["It is \\boxed{2}", "It is \\boxed{5}"]
    body = {
        "query": [p + r for p, r in zip(prompts, responses, strict=True)],
        "prompts": prompts,
        "labels": ["2", "4"],
    }
    response = post(service, "/get_reward?pipeline=math", json=body)
    assert response.status_code == 200
    reply = response.json()
    assert reply == {"rewards": [1.0, 0.0], "scores": [1.0, 0.0], "extra_logs": {"correct": [1.0, 0.0]}}


def test_openrlhf_without_prompts_scores_the_whole_query(service):
    reply = post(service, "/get_reward?pipeline=math", json={"query": ["\\boxed{3}"], "labels": ["3"]})
    assert reply.json()["rewards"] == [1.0]


def test_openrlhf_failed_sample_does_not_fail_its_batch(service):
    # An unusable label is the sample's failure: it scores math_verify's minimum, the batch is answered.
    body = {"query": ["\\boxed{3}", "\\boxed{3}"], "labels": ["???", "3"]}
    response = post(service, "/get_reward?pipeline=math", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["rewards"] == [0.0, 1.0]
    assert "sample 0, component correct" in service.log() and "scored as its failure value" in service.log()


def test_openrlhf_empty_batch_gets_empty_lists(service):
    """OpenRLHF main with two reward URLs posts an empty batch to the second."""
    for body in ({"query": [], "prompts": [], "labels": []}, {"query": []}):
        response = post(service, "/get_reward?pipeline=math", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"rewards": [], "scores": [], "extra_logs": {}}


def test_openrlhf_vlm_and_truncated_prompts_are_scored_not_dropped(service):
    prompt = "<image>\nExample: 2+2 is \\boxed{4}. Look at the picture: what is 3+1? Use a box."
    body = {
        "query": [
            prompt.replace("<image>", "<image>" * 4) + " \\boxed{4}",
            prompt.replace("<image>", "<image>" * 4) + " I do not know",
            prompt[:30] + " I do not know",
        ],
        "prompts": [prompt] * 3,
        "labels": ["4"] * 3,
    }
    response = post(service, "/get_reward?pipeline=math", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["rewards"] == [1.0, 0.0, 0.0]  # the prompt's own \\boxed{4} earns nothing


def test_openrlhf_mismatched_lists_are_422(service):
    response = post(service, "/get_reward", json={"query": ["a", "b"], "labels": ["1"]})
    assert_envelope(response, 422, "invalid_input", mentions="labels")


def test_pipelines_endpoint_lists_components_hashes_and_readiness(service):
    listing = httpx.get(service.url + "/v1/pipelines", timeout=10).json()["pipelines"]
    by_name = {p["name"]: p for p in listing}
    assert by_name["math"]["components"]["correct"]["source"] == "rule:math"
    assert by_name["rm_both_heads"]["components"]["b"] == {
        "kind": "model",
        "source": "model:rm",
        "transforms": [],
        "head": "head1",
        "required": True,
        "weight": 0.5,
        "group_relative": False,
    }
    assert by_name["grouped"]["components"]["correct"]["group_relative"] is True  # ref: group_mean
    assert all(p["ready"] and p["hash"].startswith("sha256:") for p in listing)


def test_health_readiness_and_metrics(service):
    assert httpx.get(service.url + "/healthz", timeout=10).json()["status"] == "ok"
    assert httpx.get(service.url + "/readyz", timeout=10).json()["status"] == "ready"
    post(service, "/v1/score", json={"pipeline": "math", "items": [{"response": "1", "reference": "1"}]})
    assert service.metric("rewardgate_requests_total", route="/v1/score", pipeline="math", status="200") >= 1
    assert service.metric("rewardgate_items_scored_total", pipeline="math", status="ok") >= 1
    assert service.metric("rewardgate_reward_count", pipeline="math") >= 1
    assert service.metric("rewardgate_model_ready", model="model:minilm") == 1
    assert service.metric("rewardgate_rule_duration_seconds_count", rule="rule:math") >= 1
    assert service.metric("rewardgate_cache_lookups_total", source="rule:math", result="miss") >= 1
    post(service, "/v1/score", json={"pipeline": "nope", "items": [{"response": "x"}]})
    assert service.metric("rewardgate_errors_total", error_type="pipeline_not_found", scope="request") >= 1


def test_a_taken_grpc_port_stops_start_up_with_a_clear_message(tmp_path):
    import socket

    from rewardgate.config.settings import default_pipeline_file
    from tests.support.server import ServiceProcess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = ServiceProcess(
            default_pipeline_file(), env={"REWARDGATE_GRPC_PORT": str(port)}, log_path=tmp_path / "log"
        )
        try:
            assert process.process.wait(60) != 0
        finally:
            process.stop()
    assert "REWARDGATE_GRPC_PORT" in process.log()
