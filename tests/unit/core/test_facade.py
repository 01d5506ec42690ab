"""RewardCore, the front door, built by build_core outside any web framework."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rewardgate.assembly import build_core
from rewardgate.config.pipeline_file import parse_config
from rewardgate.config.settings import Settings
from rewardgate.core.calls import CallItem, ScoreCall
from rewardgate.errors import PayloadTooLarge, PipelineNotFound
from rewardgate.items import ScoringItem
from tests.support.images import data_url, png

ROOT = Path(__file__).resolve().parents[3]
CONFIG = {
    "rules": {"exact": {"type": "exact_match"}},
    "pipelines": {"exact": {"components": {"match": {"rule": "exact"}}}},
}


@pytest.fixture
async def core():
    built = build_core(Settings(grpc_port=0), parse_config(CONFIG))
    await built.start()
    yield built
    await built.close()


async def test_scores_and_describes_its_pipelines(core):
    reply, timings = await core.score(
        ScoreCall("exact", [CallItem(None, ScoringItem("q", "Paris", "Paris", {}))])
    )
    assert [(r.id, r.reward, r.status) for r in reply.results] == [("0", 1.0, "ok")]
    assert timings.total_s > 0
    (info,) = core.pipelines()
    assert (info.name, info.ready, info.components["match"].source) == ("exact", True, "rule:exact")


async def test_a_group_relative_component_is_described_as_one():
    config = {
        "rules": {"exact": {"type": "exact_match"}},
        "pipelines": {
            "grouped": {
                "components": {
                    "plain": {"rule": "exact"},
                    "relative": {"rule": "exact", "transform": {"type": "par", "ref": "group_mean"}},
                }
            }
        },
    }
    core = build_core(Settings(grpc_port=0), parse_config(config))
    (info,) = core.pipelines()
    assert {name: c.group_relative for name, c in info.components.items()} == {
        "plain": False,
        "relative": True,
    }
    await core.close()


async def test_the_image_limits_of_the_settings_reach_request_validation():
    """build_core hands the settings' image policy to validation: the same two-image item
    scores under the default limit and is refused (413) under max_images_per_item=1."""
    image = {"type": "image", "image": data_url(png())}
    prompt = [{"role": "user", "content": [image, image, {"type": "text", "text": "Same?"}]}]
    call = ScoreCall("exact", [CallItem(None, ScoringItem(prompt, "yes", "yes", {}))])
    for limit, refused in ((16, False), (1, True)):
        core = build_core(Settings(grpc_port=0, max_images_per_item=limit), parse_config(CONFIG))
        await core.start()
        try:
            if refused:
                with pytest.raises(PayloadTooLarge, match="more than 1 images"):
                    await core.score(call)
            else:
                reply, _ = await core.score(call)
                assert [r.reward for r in reply.results] == [1.0]
        finally:
            await core.close()


async def test_unknown_pipelines_are_refused_by_name(core):
    assert core.knows("exact") and not core.knows("nope")
    core.require(["exact"])
    with pytest.raises(PipelineNotFound, match="'nope'"):
        core.require(["exact", "nope"])
    with pytest.raises(PipelineNotFound):
        await core.score(ScoreCall("nope", [CallItem(None, ScoringItem("q", "r", None, {}))]))


async def test_drain_runs_its_hooks_once_and_readiness_says_so(core):
    calls = []
    core.on_drain(lambda: calls.append("stop"))
    assert core.readiness() == {} and core.liveness_problem() is None
    core.begin_drain()
    core.begin_drain()
    assert calls == ["stop"]
    assert core.readiness()["service"].startswith("draining")


async def test_stats_follow_what_was_scored(core):
    call = ScoreCall("exact", [CallItem(None, ScoringItem("q", r, "Paris", {})) for r in ("Paris", "Lyon")])
    await core.score(call)
    assert core.pin_reference() in ([], ["exact"])  # pinned once the window holds enough items
    core.unpin_reference()
    assert "exact" in core.stats().as_json()["pipelines"]


async def test_a_group_sent_over_two_calls_is_assembled_and_its_votes_reported():
    """build_core wires the group assembler and the vote statistics behind the façade."""
    config = {
        "pipelines": {
            "ttrl": {"components": {"vote": {"group": {"method": "majority_vote", "extractor": "math"}}}}
        }
    }
    core = build_core(Settings(grpc_port=0, group_wait_ms=30_000), parse_config(config))
    await core.start()
    try:

        def call(*samples):
            return ScoreCall(
                "ttrl", [CallItem(i, ScoringItem("q", rf"\boxed{{{v}}}"), "g", 3) for i, v in samples]
            )

        (first, _), (second, _) = await asyncio.gather(
            core.score(call(("a", 4), ("b", 4))), core.score(call(("c", 5)))
        )
        rewards = {r.id: r.reward for r in first.results + second.results}
        assert rewards == {"a": 1.0, "b": 1.0, "c": 0.0}  # one vote over all three samples
        (info,) = core.pipelines()
        assert (info.components["vote"].kind, info.components["vote"].source) == ("group", None)
        votes = core.group_stats()["ttrl"]["vote"]
        assert votes["groups"] == 1 and votes["no_majority_share"] == 0.0
    finally:
        await core.close()


def test_scoring_in_process_imports_no_web_framework(tmp_path):
    """What ``rewardgate eval`` does without --url: the core, no FastAPI, no uvicorn, no app."""
    config = tmp_path / "pipelines.yaml"
    config.write_text(
        "rules: {exact: {type: exact_match}}\npipelines: {exact: {components: {match: {rule: exact}}}}\n"
    )
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from rewardgate.config.settings import Settings
        from rewardgate.eval.targets import InProcessTarget

        async def main():
            async with InProcessTarget(Settings(config_path={str(config)!r}, grpc_port=0), 10) as target:
                item = {{"prompt": "q", "response": "Paris", "reference": "Paris"}}
                scored = await target.score([item], "exact")
            frameworks = [m for m in ("fastapi", "starlette", "uvicorn") if m in sys.modules]
            print(scored[0].reward, sorted(frameworks))

        asyncio.run(main())
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "1.0 []"


async def test_two_tenants_sending_one_group_id_never_meet_in_one_group():
    """With API keys on, a group is the caller's: another key's samples under the same id (ids
    like ``slime-7`` are easy to guess) cannot fill it, vote in it or see its rewards."""
    from rewardgate.auth.caller import current_key
    from rewardgate.auth.keys import ApiKey, digest

    config = {
        "pipelines": {
            "ttrl": {"components": {"vote": {"group": {"method": "majority_vote", "extractor": "math"}}}}
        }
    }
    core = build_core(Settings(grpc_port=0, group_wait_ms=1_000), parse_config(config))
    await core.start()
    try:

        async def as_tenant(name, sample_id, value):
            current_key.set(ApiKey(name, digest(name)))
            call = ScoreCall("ttrl", [CallItem(sample_id, ScoringItem("q", rf"\boxed{{{value}}}"), "g", 2)])
            (result,) = (await core.score(call))[0].results
            return result

        mine, theirs = await asyncio.gather(as_tenant("alice", "a", 4), as_tenant("mallory", "m", 5))
        for result in (mine, theirs):  # each waited alone for its second sample
            assert result.reward is None and result.errors["vote"].type == "group_incomplete"
        first, second = await asyncio.gather(as_tenant("alice", "a1", 4), as_tenant("alice", "a2", 4))
        assert first.reward == second.reward == 1.0  # one tenant's two samples do meet
    finally:
        await core.close()
