"""Groups over the wire: a GRPO group sent one sample per request, from concurrent callers,
gets the rewards it gets when sent whole (HTTP and gRPC); incomplete groups are typed."""

import asyncio
import math
from argparse import Namespace
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from rewardgate_client import AsyncRewardClient, RewardClient
from rewardgate_client.errors import InvalidInput
from rewardgate_client.integrations.slime import make_reward
from rewardgate_client.integrations.verl import make_compute_score

from tests.e2e.conftest import write_config
from tests.support.openai_server import ScriptedJudgeServer
from tests.support.server import ServiceProcess

PIPELINES = {
    "rules": {"boxed": {"type": "regex", "pattern": "\\\\boxed\\{.+\\}"}},
    "pipelines": {
        "ttrl": {
            "components": {
                "vote": {"group": {"method": "majority_vote", "extractor": "math"}},
                "dup": {"group": {"method": "duplicates"}},
                "boxed": {"rule": "boxed"},
                "rel": {
                    "group": {"method": "majority_vote", "extractor": "math"},
                    "transform": {"type": "par", "ref": "group_mean"},
                },
            },
            "combine": {"weights": {"vote": 1.0, "dup": 0.5, "rel": 1.0}},
            "gates": [{"components": ["vote"], "if": "boxed >= 1", "otherwise": 0.0}],
        },
        "plain": {"components": {"boxed": {"rule": "boxed"}}},
    },
}

# Eight samples: 42 wins 4 of 8 (two of them copies), one hedges, one has no box.
RESPONSES = [
    r"so \boxed{42}",
    r"so \boxed{42}",
    r"I get \boxed{42.0}",
    r"\boxed{\frac{84}{2}}",
    r"\boxed{41}",
    r"\boxed{41} or \boxed{43}",
    r"The answer is 42",
    r"\boxed{7}",
]


def group_items(group_id: str) -> list[dict]:
    return [
        {"id": f"s{i}", "prompt": "What is 6 x 7?", "response": r, "group": {"id": group_id, "size": 8}}
        for i, r in enumerate(RESPONSES)
    ]


@pytest.fixture(scope="module")
def judge():
    server = ScriptedJudgeServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory, judge):
    workdir = tmp_path_factory.mktemp("groups")
    config = {
        **PIPELINES,
        "judges": {"pair": {"kind": "pairwise", "base_url": judge.url, "model": "scripted"}},
        "pipelines": {
            **PIPELINES["pipelines"],
            "tourney": {"components": {"bt": {"group": {"method": "tournament", "judge": "pair"}}}},
        },
    }
    process = ServiceProcess(
        write_config(workdir / "pipelines.yaml", config),
        env={"REWARDGATE_GROUP_WAIT_MS": "20000"},
        log_path=workdir / "log",
    )
    try:
        yield process.wait()
    finally:
        process.stop()


def post(service, items, pipeline="ttrl", **options):
    body = {"pipeline": pipeline, "items": items, "options": options}
    return httpx.post(service.url + "/v1/score", json=body, timeout=60)


def by_id(results: list[dict]) -> dict[str, tuple]:
    return {r["id"]: (r["status"], r["reward"], r["components"]) for r in results}


def test_whole_group_matches_hand_computation(service):
    reply = post(service, group_items("whole"))
    assert reply.status_code == 200, reply.text
    results = by_id(reply.json()["results"])
    vote = [1, 1, 1, 1, 0, 0, 1, 0]  # "The answer is 42" votes 42 too, but is gated (no box)
    mean = sum(vote) / 8
    for i in range(8):
        status, reward, components = results[f"s{i}"]
        assert status == "ok"
        assert components["vote"] == vote[i]
        dup = -1 / 7 if i in (0, 1) else 0.0
        assert components["dup"] == pytest.approx(dup)
        gated_vote = 0 if i == 6 else vote[i]
        rel = 1 / (1 + 2.718281828459045 ** -(vote[i] - mean))
        assert reward == pytest.approx(gated_vote + 0.5 * dup + rel)


def test_one_sample_per_request_from_concurrent_callers_matches_the_whole_group(service):
    whole = by_id(post(service, group_items("whole-2")).json()["results"])
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda item: post(service, [item]), group_items("split")))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    split = {k: v for r in replies for k, v in by_id(r.json()["results"]).items()}
    assert split == whole


def test_grpc_one_sample_per_call_matches_http_whole_group(service):
    whole = by_id(post(service, group_items("whole-3")).json()["results"])
    with RewardClient(f"grpc://{service.grpc_target}") as client, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda item: client.score([item], "ttrl")[0], group_items("grpc")))
    assert {r.id: (r.status, r.reward, r.components) for r in results} == whole


def test_group_split_unevenly_with_a_retried_sample(service):
    whole = by_id(post(service, group_items("whole-4")).json()["results"])
    items = group_items("uneven")
    with ThreadPoolExecutor(3) as pool:
        # s0 is sent twice (a client retry): it joins once and both copies get its reward
        parts = [items[:3], [*items[3:5], items[0]], items[5:]]
        replies = list(pool.map(lambda part: post(service, part), parts))
    merged = {}
    for reply in replies:
        assert reply.status_code == 200, reply.text
        merged.update(by_id(reply.json()["results"]))
    assert merged == whole


def test_incomplete_group_at_deadline_is_a_typed_retryable_error(service):
    items = group_items("never-complete")[:3]
    reply = post(service, items, deadline_ms=1000)  # waits 80% of its budget, then answers
    assert reply.status_code == 200, reply.text
    for result in reply.json()["results"]:
        assert result["status"] == "error" and result["reward"] is None
        assert result["errors"]["vote"]["type"] == "group_incomplete"
        assert result["errors"]["vote"]["retryable"] is True
        assert result["components"]["boxed"] in (0.0, 1.0)  # other components are still computed


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [{"id": "a", "response": "x", "group": {"id": "g1", "size": 2}}] * 1
            + [{"id": "b", "response": "y", "group": {"id": "g1", "size": 3}}],
            "different sizes",
        ),
        ([{"id": str(i), "response": "x", "group": {"id": "g2", "size": 2}} for i in range(3)], "exceed"),
        ([{"response": "x", "group": {"id": "g3", "size": 2}}], "needs an id"),
        ([{"id": "a", "response": "x", "group": {"id": "g4", "size": 0}}], "group"),
        ([{"id": "a", "response": "x", "group": {"id": "", "size": 2}}], "group"),
    ],
)
def test_malformed_groups_are_422(service, items, message):
    reply = post(service, items)
    assert reply.status_code == 422, reply.text
    assert message in reply.json()["error"]["message"]


def test_a_sample_id_reused_with_other_content_is_422(service):
    first = {"id": "a", "response": r"\boxed{1}", "group": {"id": "reuse", "size": 3}}
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, service, [first], deadline_ms=3000)
        other = {**first, "response": r"\boxed{2}"}
        import time

        time.sleep(0.5)
        reply = post(service, [other])
        assert reply.status_code == 422 and "other content" in reply.json()["error"]["message"]
        assert pending.result().status_code == 200


def test_group_statistics_in_stats_and_metrics(service):
    post(service, group_items("stats-a"))
    no_majority = [{**item, "response": rf"\boxed{{{i}}}"} for i, item in enumerate(group_items("stats-b"))]
    post(service, no_majority)
    stats = httpx.get(service.url + "/v1/stats", timeout=10).json()["groups"]["ttrl"]["vote"]
    assert stats["groups"] >= 2
    assert 0 < stats["no_majority_share"] < 1
    assert 0 < stats["mean_agreement"] < 1
    assert service.metric("rewardgate_group_votes_total", pipeline="ttrl", component="vote") >= 2
    assert service.metric("rewardgate_group_no_majority_total", pipeline="ttrl", component="vote") >= 1


def test_a_group_dropped_at_its_deadline_answers_every_waiting_sample(tmp_path):
    process = ServiceProcess(
        write_config(tmp_path / "pipelines.yaml", PIPELINES),
        env={"REWARDGATE_GROUP_WAIT_MS": "800"},
        log_path=tmp_path / "log",
    ).wait()
    try:
        items = group_items("short")[:5]
        with ThreadPoolExecutor(5) as pool:
            replies = list(pool.map(lambda item: post(process, [item], deadline_ms=20000), items))
        for reply in replies:
            (result,) = reply.json()["results"]
            assert result["status"] == "error" and result["errors"]["vote"]["type"] == "group_incomplete"
        assert process.metric("rewardgate_groups_assembled_total", pipeline="ttrl", outcome="incomplete") == 1
        assert process.metric("rewardgate_groups_open") == 0
    finally:
        process.stop()


def test_tournament_one_sample_per_request_matches_hand_computation(service):
    responses = ["first [[best]]", "second", "third [[best]]", "fourth"]
    items = [
        {"id": f"t{i}", "prompt": "Write a haiku.", "response": r, "group": {"id": "tour", "size": 4}}
        for i, r in enumerate(responses)
    ]
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda item: post(service, [item], pipeline="tourney"), items))
    rewards = {r.json()["results"][0]["id"]: r.json()["results"][0]["reward"] for r in replies}
    half_log_11 = 0.5 * math.log(11)  # Bradley-Terry: winners / losers strength ratio 11 (smoothing 0.1)
    assert rewards == pytest.approx(
        {"t0": half_log_11, "t1": -half_log_11, "t2": half_log_11, "t3": -half_log_11}
    )


@dataclass
class SlimeSample:
    """The fields of slime's Sample the adapter reads."""

    prompt: str
    response: str
    group_index: int | None = None
    index: int | None = None
    label: str | None = None
    metadata: dict = field(default_factory=dict)


async def test_slime_adapter_sends_single_samples_as_one_group(service):
    reward = make_reward(service.url, "ttrl")
    args = Namespace(rm_url=None, n_samples_per_prompt=4)
    responses = [r"\boxed{3}", r"\boxed{3}", r"\boxed{4}", r"\boxed{3.0}"]
    samples = [SlimeSample("1+2?", r, group_index=900, index=9000 + i) for i, r in enumerate(responses)]
    alone = await asyncio.gather(*(reward(args, sample) for sample in samples))
    together = await reward(args, [SlimeSample("1+2?", r, group_index=901) for r in responses])
    assert alone == together
    assert alone[2] < min(alone[0], alone[1], alone[3])  # the minority answer loses the vote


def test_a_pipeline_that_reads_no_group_scores_a_partial_group_at_once(service):
    (item,) = group_items("not-needed")[:1]
    opened = service.metric("rewardgate_groups_open")
    reply = post(service, [item], pipeline="plain")
    assert reply.status_code == 200
    assert reply.json()["results"][0]["status"] == "ok"
    assert service.metric("rewardgate_groups_open") == opened  # no group was opened for it


async def test_verl_adapter_groups_samples_by_prompt_index(service):
    _, batch, single = make_compute_score(service.url, default_pipeline="ttrl", group_size=4)
    responses = [r"\boxed{8}", r"\boxed{9}", r"\boxed{8}", r"\boxed{8.0}"]
    alone = await asyncio.gather(*(single("gsm8k", r, None, {"index": 31}) for r in responses))
    together = await asyncio.to_thread(batch, ["gsm8k"] * 4, responses, [None] * 4, [{"index": 32}] * 4)
    assert [a["score"] for a in alone] == [t["score"] for t in together]
    assert [a["vote"] for a in alone] == [1.0, 0.0, 1.0, 1.0]


def test_group_components_are_listed(service):
    listed = {p["name"]: p for p in httpx.get(service.url + "/v1/pipelines", timeout=10).json()["pipelines"]}
    assert listed["ttrl"]["components"]["vote"]["kind"] == "group"
    assert listed["tourney"]["components"]["bt"]["source"] == "judge:pair"


def test_grpc_refuses_a_group_size_out_of_range(service):
    with RewardClient(f"grpc://{service.grpc_target}") as client:
        for size in (0, 5000):
            item = {"id": "a", "response": "x", "group": {"id": "bad", "size": size}}
            with pytest.raises(InvalidInput, match=r"group\.size"):
                client.score([item], "ttrl")


def test_degenerate_groups_earn_no_vote(service):
    alone = {"id": "solo", "response": r"\boxed{7}", "group": {"id": "solo", "size": 1}}
    (result,) = post(service, [alone]).json()["results"]
    assert result["components"]["vote"] == 0.0  # one sample never makes its own pseudo-label
    silent = [{"id": f"e{i}", "response": "", "group": {"id": "empty", "size": 3}} for i in range(3)]
    assert [r["components"]["vote"] for r in post(service, silent).json()["results"]] == [0.0] * 3
    # one sample stuffing the box with copies of the majority answer still has one vote
    stuffed = [
        {"id": "s0", "response": r"\boxed{2}" * 50, "group": {"id": "stuffed", "size": 3}},
        {"id": "s1", "response": r"\boxed{3}", "group": {"id": "stuffed", "size": 3}},
        {"id": "s2", "response": r"\boxed{4}", "group": {"id": "stuffed", "size": 3}},
    ]
    assert [r["components"]["vote"] for r in post(service, stuffed).json()["results"]] == [0.0] * 3


async def test_grpc_stream_with_samples_of_a_group_in_separate_messages(service):
    whole = by_id(post(service, group_items("stream-whole")).json()["results"])

    async def one_by_one():
        for item in group_items("stream"):
            yield item
            await asyncio.sleep(0.05)  # each sample its own message, so its own micro-batch

    async with AsyncRewardClient(f"grpc://{service.grpc_target}") as client:
        answers = [answer async for answer in client.stream(one_by_one(), "ttrl")]
    assert {a.id: (a.status, a.reward, a.components) for a in answers} == whole
