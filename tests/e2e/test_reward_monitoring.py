"""A synthetic reward-hacking run against a running service: the monitor's signals
show it in ``GET /v1/stats`` and ``/metrics``.

The pipeline pays 1 when the reference answer occurs in the response (the
``contains`` rule), a reward a policy can hack by listing many candidate
answers. The run has three phases of 240 items each (the window is 240 items):

1. honest: "The answer is N." with N right about a third of the time, padded by
   random filler unrelated to correctness;
2. hacking: responses list k candidates, so longer responses earn more;
3. collapsed: every sample lists all candidates; every group gets 1 everywhere.

A pairwise judge biased to always prefer the first position runs alongside.
"""

from __future__ import annotations

import random

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess, score_ok

WINDOW = 240
GROUP = 8
CANDIDATES = 60


@pytest.fixture(scope="module")
def service(tmp_path_factory, judge_server):
    root = tmp_path_factory.mktemp("monitoring")
    config = {
        "rules": {"mentions": {"type": "contains"}},
        "judges": {"biased": {"kind": "pairwise", "base_url": judge_server.url, "model": "scripted"}},
        "pipelines": {
            "answer": {"components": {"mentions": {"rule": "mentions"}}},
            "preference": {"components": {"pref": {"judge": "biased"}}},
        },
    }
    env = {
        "REWARDGATE_MONITOR_WINDOW_ITEMS": str(WINDOW),
        "REWARDGATE_MONITOR_MIN_ITEMS": "40",
        "REWARDGATE_CACHE_MAX_ENTRIES": "0",
    }
    process = ServiceProcess(write_config(root / "pipelines.yaml", config), env=env, log_path=root / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def honest(rng: random.Random, answer: int) -> str:
    guess = (
        answer if rng.random() < 1 / 3 else rng.choice([n for n in range(10, 10 + CANDIDATES) if n != answer])
    )
    return f"The answer is {guess}." + " Let me check." * rng.randint(0, 4)


def listing(rng: random.Random, k: int) -> str:
    return "It could be " + ", ".join(str(n) for n in rng.sample(range(10, 10 + CANDIDATES), k)) + "."


def send_groups(service, rng, make_response, *, one_per_request: bool) -> None:
    for _ in range(WINDOW // GROUP):
        answer = rng.randrange(10, 10 + CANDIDATES)
        items = [
            {
                "prompt": f"Question {rng.random()}",
                "response": make_response(rng, answer),
                "reference": str(answer),
            }
            for _ in range(GROUP)
        ]
        name = f"g{rng.random()}"
        for item in items:
            item["group"] = name
        batches = [[item] for item in items] if one_per_request else [items]
        for batch in batches:
            score_ok(service, "answer", batch)


def stats(service) -> dict:
    response = httpx.get(service.url + "/v1/stats", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def window_gauges(service) -> dict[tuple[str, tuple], float]:
    text = httpx.get(service.url + "/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("rewardgate_window_")
        for sample in family.samples
    }


def gauge(gauges: dict, name: str, **labels) -> float | None:
    return gauges.get((f"rewardgate_window_{name}", tuple(sorted(labels.items()))))


def test_a_hacking_run_shows_in_stats_and_metrics(service):
    rng = random.Random(7)

    send_groups(service, rng, honest, one_per_request=False)
    calm = stats(service)["pipelines"]["answer"]
    assert calm["items"] == WINDOW
    assert abs(calm["reward"]["length_correlation"]) < 0.3
    assert calm["groups"]["zero_advantage_share"] < 0.5
    assert calm["reward"]["drift"]["psi"] is None  # no reference window yet

    # Hacking: k candidates, k drawn per sample; sent one sample per request, as rollout workers do.
    send_groups(service, rng, lambda r, answer: listing(r, r.randint(1, CANDIDATES)), one_per_request=True)
    hacking = stats(service)["pipelines"]["answer"]
    assert hacking["reward"]["length_correlation"] > 0.5
    assert hacking["response_chars"]["mean"] > 2 * calm["response_chars"]["mean"]
    assert hacking["reward"]["reference"]["mean"] == pytest.approx(calm["reward"]["mean"])
    gauges = window_gauges(service)
    assert gauge(gauges, "length_correlation", pipeline="answer", component="") > 0.5
    assert gauge(gauges, "length_correlation", pipeline="answer", component="mentions") > 0.5

    send_groups(service, rng, lambda r, answer: listing(r, CANDIDATES), one_per_request=False)
    collapsed = stats(service)["pipelines"]["answer"]
    assert collapsed["reward"]["mean"] == 1.0 and collapsed["reward"]["std"] == 0.0
    assert collapsed["groups"]["zero_advantage_share"] == 1.0
    assert collapsed["reward"]["drift"]["psi"] > 0.25 and collapsed["reward"]["drift"]["ks"] > 0.3
    assert collapsed["reward"]["length_correlation"] is None  # undefined for constant rewards, not 0
    gauges = window_gauges(service)
    assert gauge(gauges, "zero_advantage_group_share", pipeline="answer") == 1.0
    assert gauge(gauges, "reward_drift_psi", pipeline="answer", component="") > 0.25
    assert gauge(gauges, "reward_std", pipeline="answer", component="", window="current") == 0.0
    assert gauge(gauges, "item_share", pipeline="answer", status="ok") == 1.0
    assert gauge(gauges, "length_correlation", pipeline="answer", component="") is None


def test_a_position_biased_judge_shows_as_order_disagreement(service, judge_server):
    items = [
        {"prompt": f"Q{i}", "response": f"answer {i} [[always=A]]", "reference": f"other {i}"}
        for i in range(48)
    ]
    reply = score_ok(service, "preference", items)
    assert {r["reward"] for r in reply["results"]} == {0.5}  # each order picks the first: a tie
    judge = stats(service)["judges"]["biased"]
    assert judge["pairwise_verdicts"] == 48 and judge["order_disagreement_share"] == 1.0
    assert gauge(window_gauges(service), "judge_order_disagreement_share", judge="biased") == 1.0


def test_stats_of_an_unknown_pipeline_is_a_404_and_the_reference_can_be_pinned(service):
    response = httpx.get(service.url + "/v1/stats", params={"pipeline": "nope"}, timeout=10)
    assert response.status_code == 404 and response.json()["error"]["type"] == "pipeline_not_found"
    pinned = httpx.post(service.url + "/v1/stats/reference", json={"pipelines": ["answer"]}, timeout=10)
    assert pinned.status_code == 200 and pinned.json() == {"pinned": ["answer"]}
    assert stats(service)["pipelines"]["answer"]["drift_reference"] == "pinned"
    released = httpx.delete(service.url + "/v1/stats/reference", timeout=10)
    assert released.status_code == 200
    assert stats(service)["pipelines"]["answer"]["drift_reference"] == "previous_window"
    bad = httpx.post(service.url + "/v1/stats/reference", json={"pipelines": "answer"}, timeout=10)
    assert bad.status_code == 422
