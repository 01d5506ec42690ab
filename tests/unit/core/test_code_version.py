"""A source's cache identity covers the code that computes it and the libraries it calls, so a
new build sharing Redis never serves an old build's verdict (rewardgate/sources/code_version.py)."""

import sys

import pytest

from rewardgate.sources import base, code_version
from rewardgate.sources.base import SourceKey
from rewardgate.sources.code_version import code_fingerprint, library_versions
from rewardgate.sources.rule.registry import build_rule
from rewardgate.sources.rule.source import RuleSource


@pytest.fixture
def fresh_caches():
    caches = (code_fingerprint, library_versions, code_version._closure)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def test_editing_the_code_changes_the_fingerprint(tmp_path, monkeypatch, fresh_caches):
    module = tmp_path / "scoring_code_probe.py"
    module.write_text("def score(x):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_fingerprint("scoring_code_probe")
    assert code_fingerprint("scoring_code_probe") == before  # stable while nothing changes
    module.write_text("def score(x):\n    return 0.0  # the fix\n")
    for cache in (code_fingerprint, code_version._closure):
        cache.cache_clear()
    assert code_fingerprint("scoring_code_probe") != before


def test_imports_inside_functions_and_their_dependencies_are_versioned(fresh_caches):
    math = library_versions("rewardgate.sources.rule.math")
    # math_verify is imported lazily inside the verifier; its parser is sympy's.
    assert {"math-verify", "sympy"} <= set(math), math
    assert "sacrebleu" in library_versions("rewardgate.sources.rule.text")
    assert "sqlite" in library_versions("rewardgate.sources.rule.sql")
    assert library_versions("rewardgate.sources.rule.math")["python"].startswith(f"{sys.version_info[0]}.")


def test_a_rules_cache_identity_changes_with_its_code_version(monkeypatch):
    def source():
        return RuleSource(SourceKey("rule", "m"), rule=build_rule("exact_match", {}))

    before = source().fingerprint()
    assert source().fingerprint() == before
    monkeypatch.setattr(base, "code_fingerprint", lambda module: "sha256:another-build")
    assert source().fingerprint() != before
    assert source().version == RuleSource(SourceKey("rule", "m"), rule=build_rule("exact_match", {})).version


def test_a_rule_is_versioned_by_its_own_module():
    assert (
        RuleSource(SourceKey("rule", "m"), rule=build_rule("math_verify", {})).code_module
        == "rewardgate.sources.rule.math"
    )


def test_every_process_of_one_build_computes_the_same_fingerprint():
    """Replicas sharing Redis must derive the same keys: the fingerprint may not depend on the
    hash seed (set order), which differs per process. It did: the library walk followed a set's
    order, and a distribution first reached at the last level was never expanded."""
    import os
    import subprocess

    script = (
        "from rewardgate.sources.code_version import code_fingerprint as f;"
        "print(f('rewardgate.sources.model.backends.local'), f('rewardgate.sources.rule.math'))"
    )
    printed = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in range(1, 7)
    }
    assert len(printed) == 1, printed
