"""build_rule_sources: rule specs -> rule sources keyed by SourceKey, and the verifier
pool only isolated rules need (hand-built specs, no runtime)."""

from __future__ import annotations

import time

import pytest

from rewardgate.config.settings import Settings
from rewardgate.errors import ConfigError
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.rule.build import build_rule_sources
from rewardgate.sources.rule.source import RuleSource
from rewardgate.sources.rule.spec import RuleSpec

ITEM = ScoringItem("Capital of France?", "Paris is the capital", "Paris is the capital", {})


async def test_inline_rules_become_keyed_sources_and_start_no_pool():
    specs = {"exact": RuleSpec(type="exact_match"), "starts": RuleSpec(type="regex", pattern="^Paris")}
    built = build_rule_sources(specs, Settings(), Metrics())
    assert built.pool is None
    assert list(built.sources) == [SourceKey("rule", "exact"), SourceKey("rule", "starts")]
    assert all(key == source.key for key, source in built.sources.items())
    starts = built.sources[SourceKey("rule", "starts")]
    assert isinstance(starts, RuleSource) and starts.name == "rule:starts"
    assert (starts.rule.type_name, starts.rule.params.pattern) == ("regex", "^Paris")
    result = await starts.compute([ITEM], deadline=time.monotonic() + 30)
    assert result.outcomes == [[1.0]]


async def test_isolated_rules_share_one_pool_sized_by_the_settings():
    metrics = Metrics()
    specs = {"exact": RuleSpec(type="exact_match"), "overlap": RuleSpec(type="rouge")}
    settings = Settings(verifier_workers=1, verifier_max_tasks_per_worker=7)
    built = build_rule_sources(specs, settings, metrics)
    pool = built.pool
    assert pool is not None
    try:
        assert pool.workers == 1
        assert metrics.registry.get_sample_value("rewardgate_verifier_workers") == 1
        # Every rule source holds the pool; only the isolated one runs in it.
        assert {source.pool for source in built.sources.values()} == {pool}
        overlap = built.sources[SourceKey("rule", "overlap")]
        assert not overlap.is_ready()  # not warmed: the owner warms the pool
        await pool.warm()
        assert overlap.is_ready()
        result = await overlap.compute([ITEM], deadline=time.monotonic() + 60)
        assert result.outcomes == [[pytest.approx(1.0)]]
        assert metrics.registry.get_sample_value("rewardgate_verifier_busy_workers") == 0
    finally:
        pool.close()


def test_no_specs_build_nothing():
    built = build_rule_sources({}, Settings(), Metrics())
    assert (built.sources, built.pool) == ({}, None)


def test_invalid_parameters_are_refused_when_built():
    with pytest.raises((ConfigError, ValueError)):
        build_rule_sources({"bad": RuleSpec(type="regex", pattern="(")}, Settings(), Metrics())
