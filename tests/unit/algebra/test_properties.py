"""Property-based checks (hypothesis) of the algebra's promises.

Transforms are monotone where they should be and bounded where promised;
ensembles do not depend on member order; gates and constraints override
exactly as declared. Evaluation runs the real evaluator (tests/support/algebra.py).
"""

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rewardgate.algebra import functions as fn
from tests.support.algebra import build_runtime, evaluate, number_rules

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
moderate = st.floats(min_value=-30, max_value=30, allow_nan=False)


@given(moderate, moderate, moderate)
def test_par_and_log_sigmoid_are_monotone_and_bounded(x, y, ref):
    lo, hi = min(x, y), max(x, y)
    assert 0 <= fn.sigmoid(lo - ref) <= fn.sigmoid(hi - ref) <= 1
    assert fn.log_sigmoid(lo - ref) <= fn.log_sigmoid(hi - ref) <= 0


@given(finite, finite, st.floats(min_value=1e-3, max_value=10))
def test_tanh_is_monotone_and_bounded(x, y, scale):
    lo, hi = min(x, y), max(x, y)
    assert -1 <= math.tanh(scale * lo) <= math.tanh(scale * hi) <= 1


@given(finite, finite, st.floats(min_value=-5, max_value=5), st.floats(min_value=-5, max_value=5))
def test_clip_is_monotone_and_within_bounds(x, y, a, b):
    low, high = min(a, b), max(a, b)
    lo, hi = min(x, y), max(x, y)
    assert low <= fn.clip(lo, low, high) <= fn.clip(hi, low, high) <= high


members = st.dictionaries(st.sampled_from("abcdef"), finite, min_size=2)


@given(members, st.sampled_from(["mean", "min", "median", "mean_minus_std"]), st.randoms())
def test_ensembles_are_permutation_invariant(values, aggregate, random):
    names = list(values)
    random.shuffle(names)
    shuffled = {name: values[name] for name in names}
    assert math.isclose(
        fn.ensemble(values, aggregate, penalty=0.7),
        fn.ensemble(shuffled, aggregate, penalty=0.7),
        rel_tol=1e-9,
        abs_tol=1e-6,
    )


@given(members, st.sampled_from(["mean", "median", "min"]))
def test_mean_median_min_lie_within_the_members(values, aggregate):
    result = fn.ensemble(values, aggregate)
    assert min(values.values()) - 1e-6 <= result <= max(values.values()) + 1e-6


GATED = {
    "rules": number_rules("correct", "style", "safe"),
    "pipelines": {
        "p": {
            "components": {
                "correct": {"rule": "correct"},
                "style": {"rule": "style"},
                "safe": {"rule": "safe"},
            },
            "combine": {"weights": {"correct": 1.0, "style": 0.5}},
            "gates": [{"components": ["style"], "if": "correct >= 1", "otherwise": -0.25}],
            "constraints": [{"if": "safe < 0.5", "reward": -3.0}],
        },
    },
}
GATED_RUNTIME = build_runtime(GATED)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([0.0, 0.5, 1.0, 2.0]), moderate, st.floats(min_value=0, max_value=1))
def test_gates_and_constraints_override_as_declared(correct, style, safe):
    (scored_item,) = evaluate(
        GATED, "p", [{"correct": correct, "style": style, "safe": safe}], runtime=GATED_RUNTIME
    )
    if safe < 0.5:
        expected = -3.0
    elif correct >= 1:
        expected = correct + 0.5 * style
    else:
        expected = correct + 0.5 * -0.25
    assert scored_item.status == "ok"
    assert math.isclose(scored_item.reward, expected, rel_tol=1e-12, abs_tol=1e-12)
    assert scored_item.components["style"] == style  # reported as computed, whatever the gate did


ENSEMBLE = {
    "rules": number_rules("a", "b", "c"),
    "pipelines": {
        "p": {
            "components": {
                "a": {"rule": "a"},
                "b": {"rule": "b"},
                "c": {"rule": "c"},
                "e": {
                    "ensemble": {
                        "members": ["a", "b", "c"],
                        "aggregate": "mean_minus_std",
                        "standardize": False,
                    }
                },
            },
        },
        "q": {
            "components": {
                "c": {"rule": "c"},
                "a": {"rule": "a"},
                "b": {"rule": "b"},
                "e": {
                    "ensemble": {
                        "members": ["c", "b", "a"],
                        "aggregate": "mean_minus_std",
                        "standardize": False,
                    }
                },
            },
        },
    },
}
ENSEMBLE_RUNTIME = build_runtime(ENSEMBLE)


@settings(max_examples=40, deadline=None)
@given(moderate, moderate, moderate)
def test_pipeline_ensemble_ignores_declaration_order(a, b, c):
    values = [{"a": a, "b": b, "c": c}]
    (p,) = evaluate(ENSEMBLE, "p", values, runtime=ENSEMBLE_RUNTIME)
    (q,) = evaluate(ENSEMBLE, "q", values, runtime=ENSEMBLE_RUNTIME)
    assert math.isclose(p.reward, q.reward, rel_tol=1e-9, abs_tol=1e-9)


SHAPES = {
    "rules": number_rules("x"),
    "pipelines": {
        "par": {"components": {"x": {"rule": "x", "transform": {"type": "par", "ref": "group_mean"}}}},
        "tanh": {
            "components": {
                "x": {"rule": "x", "transform": [{"type": "affine", "scale": 3}, {"type": "tanh"}]}
            }
        },
    },
}
SHAPES_RUNTIME = build_runtime(SHAPES)


@settings(max_examples=40, deadline=None)
@given(st.lists(moderate, min_size=2, max_size=6))
def test_group_relative_par_preserves_order_within_a_group_and_stays_in_the_unit_interval(xs):
    assume(len(set(xs)) == len(xs))
    scored_items = evaluate(
        SHAPES, "par", [{"x": x} for x in xs], groups=["g"] * len(xs), runtime=SHAPES_RUNTIME
    )
    rewards = [o.reward for o in scored_items]
    assert all(0 <= r <= 1 for r in rewards)
    by_x = [r for _, r in sorted(zip(xs, rewards, strict=True))]
    assert by_x == sorted(by_x)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=1, max_size=6))
def test_affine_then_tanh_is_bounded_and_monotone(xs):
    scored_items = evaluate(SHAPES, "tanh", [{"x": x} for x in xs], runtime=SHAPES_RUNTIME)
    rewards = [o.reward for o in scored_items]
    assert all(-1 <= r <= 1 for r in rewards)
    by_x = [r for _, r in sorted(zip(xs, rewards, strict=True))]
    assert by_x == sorted(by_x)
