"""/v1/score end to end against the running service."""

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.slow

MATH_ITEMS = [
    {"id": "a", "prompt": "What is 1+1?", "response": "The answer is \\boxed{2}", "reference": "2"},
    {"id": "b", "response": "\\boxed{0.5}", "reference": "\\frac{1}{2}"},
    {"id": "c", "response": "I think it is 3", "reference": "2"},
]


def score(service, pipeline, items, **options):
    body = {"pipeline": pipeline, "items": items}
    if options:
        body["options"] = options
    return httpx.post(service.url + "/v1/score", json=body, timeout=60)


def test_quickstart_math_pipeline_scores_each_item(service):
    response = score(service, "math", MATH_ITEMS)
    assert response.status_code == 200
    body = response.json()
    assert [r["reward"] for r in body["results"]] == [1.0, 1.0, 0.0]
    assert [r["id"] for r in body["results"]] == ["a", "b", "c"]
    assert all(r["status"] == "ok" and r["errors"] == {} for r in body["results"])
    assert body["pipeline_hash"].startswith("sha256:")
    assert body["versions"]["rule:math"].startswith("sha256:")
    for header in ("x-queue-time", "x-inference-time", "x-total-time"):
        assert float(response.headers[header]) >= 0


def test_similarity_pipeline_uses_minilm(service):
    body = score(
        service,
        "similarity",
        [
            {"response": "A dog runs in the park.", "reference": "A dog is running through a park."},
            {"response": "Interest rates rose.", "reference": "A dog is running through a park."},
        ],
    ).json()
    close, far = (r["reward"] for r in body["results"])
    assert close > 0.6 > far
    assert body["versions"]["model:minilm"].startswith("sha256:")
    assert body["usage"]["model_tokens"] > 0


def test_multi_head_reward_model_components_and_weights(service):
    item = {"prompt": "Say hi", "response": "Hello there"}
    heads = score(service, "rm_both_heads", [item]).json()["results"][0]
    assert heads["reward"] == pytest.approx(heads["components"]["a"] + 0.5 * heads["components"]["b"])
    single = score(service, "rm", [item]).json()["results"][0]
    assert single["components"]["helpful"] == pytest.approx(heads["components"]["a"], abs=1e-6)


def test_repeated_request_is_served_from_cache_with_identical_rewards(service):
    items = [{"response": f"cache probe {i}", "prompt": "p"} for i in range(3)]
    first = score(service, "rm", items).json()
    second = score(service, "rm", items).json()
    assert [r["reward"] for r in second["results"]] == [r["reward"] for r in first["results"]]
    assert all(r["cached"] == ["helpful"] for r in second["results"])
    assert second["usage"]["cache_hits"] == 3 and second["usage"]["model_tokens"] == 0
    uncached = score(service, "rm", items, cache=False).json()
    assert all(r["cached"] == [] for r in uncached["results"])


def test_identical_items_in_one_request_are_computed_once(service):
    item = {"prompt": "dup", "response": "same response, computed once"}
    body = score(service, "rm", [dict(item, id=str(i)) for i in range(5)]).json()
    assert len({r["reward"] for r in body["results"]}) == 1
    single = score(service, "rm", [{"prompt": "dup", "response": "x"}], cache=False).json()
    # five identical items cost the tokens of one
    assert body["usage"]["model_tokens"] < 5 * max(single["usage"]["model_tokens"], 1)


def test_bad_reference_is_a_typed_item_error_never_a_zero(service):
    body = score(service, "math", [{"response": "\\boxed{1}", "reference": "???"}, MATH_ITEMS[0]]).json()
    failed, fine = body["results"]
    assert failed["status"] == "error" and failed["reward"] is None
    assert failed["errors"]["correct"]["type"] == "invalid_reference"
    assert fine["reward"] == 1.0


def test_verifier_timeout_scores_the_minimum_is_reported_and_the_pool_recovers(service):
    # sympy tries to evaluate this tower exactly and never finishes: the response's failure,
    # scored as math_verify's minimum (never null, which a trainer would drop).
    hostile = {"response": "\\boxed{9^{9^{9^{9}}}}", "reference": "5"}
    body = score(service, "strict_timeout", [hostile, MATH_ITEMS[0]]).json()
    result, fine = body["results"]
    assert result["status"] == "ok" and result["reward"] == 0.0
    assert result["errors"]["correct"]["type"] == "verifier_timeout"
    assert fine["reward"] == 1.0
    assert score(service, "math", MATH_ITEMS).json()["results"][0]["reward"] == 1.0


def test_optional_component_failure_gives_partial_reward(service):
    body = score(service, "mixed", [{"response": "\\boxed{7}"}]).json()
    result = body["results"][0]
    assert result["status"] == "partial"
    assert result["reward"] == 1.0
    assert result["errors"]["sim"]["type"] == "invalid_reference"
    assert result["components"] == {"fmt": 1.0}


def test_return_components_false_omits_them(service):
    result = score(service, "math", MATH_ITEMS[:1], return_components=False).json()["results"][0]
    assert result["components"] is None and result["reward"] == 1.0


async def test_concurrent_single_item_requests_are_batched(service):
    before_count = service.metric("rewardgate_batch_size_count", model="rm")
    before_sum = service.metric("rewardgate_batch_size_sum", model="rm")
    items = [{"prompt": "Rate this.", "response": f"Response number {i} " * (1 + i % 7)} for i in range(200)]
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=service.url, timeout=120, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/score", json={"pipeline": "rm", "items": [item]}) for item in items)
        )
        together = await client.post(
            "/v1/score", json={"pipeline": "rm", "items": items, "options": {"cache": False}}
        )
    assert all(r.status_code == 200 for r in responses)
    singles = [r.json()["results"][0]["reward"] for r in responses]
    assert all(isinstance(reward, float) for reward in singles)
    batches = service.metric("rewardgate_batch_size_count", model="rm") - before_count
    batched_items = service.metric("rewardgate_batch_size_sum", model="rm") - before_sum
    assert batched_items == 400  # 200 single requests + one 200-item request
    assert batches <= 100  # single-item callers were coalesced: mean batch size >= 4
    # Scores do not depend on what an item was batched with.
    joint = [r["reward"] for r in together.json()["results"]]
    assert singles == pytest.approx(joint, abs=1e-4)


async def test_concurrent_requests_sharing_a_failing_item_each_get_the_item_error(service):
    # Single-flight shares the owner's outcome; an item error must stay an item error for the waiter.
    body = {"pipeline": "math", "items": [{"response": f"\\boxed{{{i}}}"} for i in range(8)]}
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        replies = await asyncio.gather(*(client.post("/v1/score", json=body) for _ in range(6)))
    assert [r.status_code for r in replies] == [200] * 6
    for reply in replies:
        assert {r["errors"]["correct"]["type"] for r in reply.json()["results"]} == {"invalid_reference"}


def test_requests_with_the_cache_off_make_no_cache_lookups(service):
    """A request that opts out of the cache is neither a hit nor a miss (the dashboard's hit
    rate would otherwise fall with every such request); its scores are unaffected."""

    def lookups() -> float:
        return sum(
            service.metric("rewardgate_cache_lookups_total", source="rule:math", result=result)
            for result in ("hit", "miss")
        )

    item = {"response": "The answer is 12.", "reference": "12"}
    before = lookups()
    one = score(service, "math", [item], cache=False)
    two = score(service, "math", [item, dict(item), {**item, "response": "13"}], cache=False)
    assert [r["reward"] for r in one.json()["results"]] == [1.0]
    assert [r["reward"] for r in two.json()["results"]] == [1.0, 1.0, 0.0]
    assert lookups() == before
    assert score(service, "math", [item]).status_code == 200
    assert lookups() == before + 1
