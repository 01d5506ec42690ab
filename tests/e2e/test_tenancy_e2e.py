"""Tenancy (docs/api.md#tenancy): two API keys share neither cache visibility nor running
statistics unless the pipeline declares them ``shared``. A real service, real API keys."""

import re

import httpx
import pytest

from rewardgate.auth.keys import digest
from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess

ALICE = "rg_alice-key-for-tests-0123456789"
BOB = "rg_bob-key-for-tests-9876543210"


@pytest.fixture(scope="module")
def tenants(tmp_path_factory):
    root = tmp_path_factory.mktemp("tenants")
    standardized = {"components": {"m": {"rule": "exact", "transform": {"type": "standardize"}}}}
    config = {
        "rules": {"exact": {"type": "normalized_match"}},
        "pipelines": {
            "private": standardized,
            "shared": {**standardized, "shared": ["cache", "statistics"]},
        },
    }
    env = {"REWARDGATE_API_KEYS": f"alice {digest(ALICE)}; bob {digest(BOB)}"}
    process = ServiceProcess(write_config(root / "pipelines.yaml", config), env=env, log_path=root / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


def score(service, key: str, pipeline: str, items: list[dict]) -> list[dict]:
    body = {"pipeline": pipeline, "items": items, "options": {"explain": True}}
    reply = httpx.post(
        service.url + "/v1/score", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]


def statistics_count(result: dict) -> int:
    """n of the running statistics the item's standardize step read (from its explanation)."""
    return int(re.search(r"running, n=(\d+)", str(result["explanation"])).group(1))


@pytest.mark.parametrize(("pipeline", "bob_sees_it"), [("private", False), ("shared", True)])
def test_another_keys_cache_entries_are_invisible_unless_shared(tenants, pipeline, bob_sees_it):
    item = {"response": f"cache probe on {pipeline}", "reference": "x"}
    assert score(tenants, ALICE, pipeline, [item])[0]["cached"] == []
    assert score(tenants, ALICE, pipeline, [item])[0]["cached"] == ["m"]
    assert (score(tenants, BOB, pipeline, [item])[0]["cached"] == ["m"]) is bob_sees_it


@pytest.mark.parametrize("pipeline", ["private", "shared"])
def test_another_keys_items_move_the_statistics_only_when_shared(tenants, pipeline):
    right = {"response": "four", "reference": "four"}
    before = statistics_count(score(tenants, BOB, pipeline, [right])[0])
    flood = [{"response": f"wrong {pipeline} {i}", "reference": "four"} for i in range(40)]
    score(tenants, ALICE, pipeline, flood)
    after = score(tenants, BOB, pipeline, [dict(right, response="four.")])[0]
    if pipeline == "shared":
        assert statistics_count(after) == before + 41
    else:
        assert statistics_count(after) == before + 1
