"""Changing a model version, a rule parameter or the pipeline invalidates
exactly the affected cached components (property-based)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgate.config.pipeline_file import ModelSpec, parse_config
from rewardgate.config.settings import Settings
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import SourceKey
from rewardgate.sources.model.source import ModelSource
from rewardgate.sources.rule.build import build_rule_sources
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.source import RuleSource
from rewardgate.store.cache import cache_key


class VersionedBackend:
    """Only what key derivation reads from a backend: its identity."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.reads = ("prompt", "response")
        self.head_names = ["score"]


def sources(model_version="sha256:aaa", pattern="x+", strip=True):
    spec = ModelSpec(kind="reward_model", path="/m")
    return {
        "rm": ModelSource(
            SourceKey("model", "rm"), spec=spec, backend=VersionedBackend(model_version), batcher=None
        ),
        "fmt": RuleSource(SourceKey("rule", "fmt"), rule=build_rule("regex", {"pattern": pattern})),
        "match": RuleSource(SourceKey("rule", "match"), rule=build_rule("exact_match", {"strip": strip})),
    }


def keys(source_map, item):
    return {name: cache_key(s.fingerprint(), s.reads, item) for name, s in source_map.items()}


texts = st.text(max_size=40)
items = st.builds(ScoringItem, prompt=texts, response=texts, reference=st.one_of(st.none(), texts))

CHANGES = {
    "model_version": ({"model_version": "sha256:bbb"}, {"rm"}),
    "regex_pattern": ({"pattern": "y+"}, {"fmt"}),
    "match_param": ({"strip": False}, {"match"}),
}


@settings(max_examples=60, deadline=None)
@given(item=items, change=st.sampled_from(sorted(CHANGES)))
def test_a_change_invalidates_exactly_the_affected_source(item, change):
    overrides, affected = CHANGES[change]
    before, after = keys(sources(), item), keys(sources(**overrides), item)
    for name in before:
        assert (before[name] != after[name]) == (name in affected), name


@settings(max_examples=60, deadline=None)
@given(item=items, other=texts)
def test_fields_a_source_does_not_read_do_not_invalidate_it(item, other):
    base = keys(sources(), item)
    new_reference = ScoringItem(item.prompt, item.response, other + "!" if other == item.reference else other)
    changed = keys(sources(), new_reference)
    assert changed["rm"] == base["rm"]  # the reward model does not read the reference
    assert changed["fmt"] == base["fmt"]  # the regex reads only the response
    assert changed["match"] != base["match"]


PIPELINE = {
    "rules": {"a": {"type": "exact_match"}, "b": {"type": "normalized_match"}},
    "pipelines": {
        "p": {
            "components": {"x": {"rule": "a"}, "y": {"rule": "b"}},
            "combine": {"weights": {"x": 1.0, "y": 0.5}},
        }
    },
}


def component_keys(raw, item):
    """Cache key of each component of pipeline p, built the way the runtime builds sources."""
    config = parse_config(raw)
    sources = build_rule_sources(config.rules, Settings(), Metrics()).sources
    result = {}
    for name, component in config.pipelines["p"].components.items():
        source = sources[SourceKey("rule", component.rule)]
        result[name] = cache_key(source.fingerprint(), source.reads, item)
    return result


@settings(max_examples=30, deadline=None)
@given(item=items, weight=st.floats(min_value=-5, max_value=5, allow_nan=False).filter(lambda w: w != 0.5))
def test_reweighting_changes_the_pipeline_hash_but_invalidates_no_component(item, weight):
    import copy

    changed = copy.deepcopy(PIPELINE)
    changed["pipelines"]["p"]["combine"]["weights"]["y"] = weight
    assert parse_config(changed).pipeline_hash("p") != parse_config(PIPELINE).pipeline_hash("p")
    assert component_keys(changed, item) == component_keys(PIPELINE, item)


@settings(max_examples=30, deadline=None)
@given(item=items)
def test_switching_a_components_rule_invalidates_only_that_component(item):
    import copy

    changed = copy.deepcopy(PIPELINE)
    changed["pipelines"]["p"]["components"]["x"] = {"rule": "b"}
    before, after = component_keys(PIPELINE, item), component_keys(changed, item)
    assert before["x"] != after["x"]
    assert before["y"] == after["y"]
