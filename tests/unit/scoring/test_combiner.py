"""Weighted sum and the never-a-silent-zero status rules."""

import pytest

from service.errors import BackendError, VerifierTimeout
from service.scoring.combiner import WeightedSum, decide

COMBINER = WeightedSum({"correct": 1.0, "rm": 0.2})


def test_weighted_sum_uses_declared_weights_and_ignores_unweighted_components():
    assert COMBINER.combine({"correct": 1.0, "rm": 2.5, "fmt": 1.0}) == pytest.approx(1.5)


def test_all_components_present_is_ok():
    verdict = decide({"correct": 0.0, "rm": -1.0}, {}, {"correct", "rm"}, COMBINER)
    assert (verdict.status, verdict.reward) == ("ok", pytest.approx(-0.2))


def test_a_failed_required_component_gives_error_and_no_reward():
    verdict = decide({"rm": 3.0}, {"correct": VerifierTimeout()}, {"correct", "rm"}, COMBINER)
    assert verdict.status == "error"
    assert verdict.reward is None


def test_a_failed_optional_component_gives_partial_from_the_rest():
    verdict = decide({"correct": 1.0}, {"rm": BackendError()}, {"correct"}, COMBINER)
    assert (verdict.status, verdict.reward) == ("partial", pytest.approx(1.0))
