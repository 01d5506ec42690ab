"""The fast path for plain ``/v1/score`` bodies gives exactly the wire model's call, or steps aside.

Bodies are generated around the wire shape: every field with right and wrong types,
unknown keys, chat prompts, group objects, deadlines, weights, free-form metadata with
numbers at the edges of 64 bits, deep nesting, non-finite numbers and bad JSON. For each,
either the fast path returns None, or the wire model accepts the body and converts it to
an equal call.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rewardgate.api.http.codec import score_call
from rewardgate.api.http.schemas import ScoreRequest
from rewardgate.api.http.simple_score_body import simple_score_call


def wire_call(body: bytes):
    """The wire model's call for ``body``, or None where it refuses the body."""
    try:
        return score_call(ScoreRequest.model_validate_json(body))
    except ValidationError:
        return None


def assert_same(body: bytes) -> None:
    fast = simple_score_call(body)
    if fast is not None:
        assert fast == wire_call(body), body


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


def mostly(good, bad=SCALARS):
    """``good`` seven times in eight: most generated bodies are valid, so both paths are compared.
    (Each side is mapped so that ``one_of`` does not flatten its branches into the draw.)"""
    return st.one_of(*[good.map(_same)] * 7, bad.map(_same))


def _same(value):
    return value


def rarely(strategy):
    """Absent (``...``) fifteen times in sixteen, else drawn from ``strategy``."""
    return st.one_of(*[st.just(...)] * 15, strategy.map(_same))


def maybe(strategy):
    """A field that may be absent (drawn as this marker) or present."""
    return st.one_of(st.just(...), strategy.map(_same))


def present(fields: dict):
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not ...})


TEXT = mostly(st.text(max_size=12))
ITEM = present(
    {
        "id": maybe(mostly(st.none() | st.text(max_size=6))),
        "prompt": maybe(mostly(st.text(max_size=12), st.just([{"role": "user", "content": "hi"}]))),
        "response": mostly(st.text(max_size=12), st.just(...) | SCALARS),
        "reference": maybe(mostly(st.none() | st.text(max_size=12))),
        "group": maybe(mostly(st.none() | st.text(max_size=4), st.just({"id": "g", "size": 2}) | SCALARS)),
        "metadata": maybe(mostly(st.dictionaries(st.text(max_size=4), JSON, max_size=4), JSON)),
        "response_images": maybe(mostly(st.just([]), st.lists(TEXT, max_size=2) | JSON)),
        "surprise": rarely(SCALARS),
    }
)
FLAG = maybe(mostly(st.booleans()))
OPTIONS = present(
    {
        "return_components": FLAG,
        "cache": FLAG,
        "explain": FLAG,
        "return_steps": FLAG,
        "deadline_ms": maybe(mostly(st.none() | st.integers(min_value=-5, max_value=10**12))),
        "weights": maybe(mostly(st.none(), st.just({"match": 0.5}))),
        "surprise": rarely(SCALARS),
    }
)
BODY = present(
    {
        "pipeline": TEXT,
        "items": mostly(st.lists(ITEM, min_size=1, max_size=3), st.just([]) | JSON),
        "options": maybe(mostly(OPTIONS, JSON)),
        "extra": rarely(SCALARS),
    }
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODY)
def test_generated_bodies_get_the_wire_models_call_or_none(body):
    assert_same(json.dumps(body).encode())


def test_the_plain_body_takes_the_fast_path_with_every_field():
    body = {
        "pipeline": "exact",
        "items": [
            {"response": "answer 7", "reference": "answer 7"},
            {
                "id": "b",
                "prompt": "What is 3 + 4?",
                "response": "7",
                "reference": None,
                "group": "g1",
                "metadata": {"task": "math", "n": [1, 2.5, None, {"deep": True}], "big": 2**64 - 1},
                "response_images": [],
            },
        ],
        "options": {"cache": False, "deadline_ms": 1500, "explain": True, "return_steps": True},
    }
    raw = json.dumps(body).encode()
    fast = simple_score_call(raw)
    assert fast is not None
    assert fast == wire_call(raw)
    assert fast.items[1].item.metadata["big"] == 2**64 - 1 and fast.options.deadline_ms == 1500


@pytest.mark.parametrize(
    "raw",
    [
        b'{"pipeline": "exact", "items": [{"response": "x", "metadata": {"n": 18446744073709551616}}]}',
        b'{"pipeline": "exact", "items": [{"response": "x", "metadata": {"n": -9223372036854775809}}]}',
        b'{"pipeline": "exact", "items": [{"response": "x", "metadata": {"n": 1e400}}]}',
        b'{"pipeline": "exact", "items": [{"response": "x", "metadata": {"n": NaN}}]}',
        b'{"pipeline": "exact", "items": [{"response": "x", "metadata": ' + b"[" * 40 + b"]" * 40 + b"}]}",
        b'{"pipeline": "exact", "items": [{"response": "x", "metadata": '
        + b"[" * 2000
        + b"]" * 2000
        + b"}]}",
        b'{"pipeline": "exact", "items": [{"response": "\\ud800"}]}',
        b'{"pipeline": "exact", "items": [{"response": "x"}], "options": {"deadline_ms": 100.0}}',
        b'{"pipeline": "exact", "items": [{"response": "x"}], "options": {"cache": "false"}}',
        b'{"pipeline": "exact", "items": [{"response": "x"}], "options": {"weights": {"match": 1}}}',
        b'{"pipeline": "exact", "items": [{"response": "x", "group": {"id": "g", "size": 2}}]}',
        b'{"pipeline": "exact", "items": [{"response": "x", "prompt": [{"role": "user", "content": "q"}]}]}',
        b'{"pipeline": "exact", "items": []}',
        b'{"pipeline": "exact", "items": [{"response": "x"}], "options": null}',
        b'{"pipeline": "a", "pipeline": "exact", "items": [{"response": "x"}]}',
        b"not json",
        b"",
    ],
)
def test_doubtful_bodies_step_aside_or_agree(raw):
    assert_same(raw)
    if b"18446744073709551616" in raw or b"9223372036854775809" in raw:
        assert simple_score_call(raw) is None  # orjson read the integer as a float: the wire model decides


SAFE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(min_value=-1e18, max_value=1e18)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)
PLAIN_ITEM = st.fixed_dictionaries(
    {"response": st.text(max_size=16)},
    optional={
        "id": st.none() | st.text(max_size=6),
        "prompt": st.text(max_size=16),
        "reference": st.none() | st.text(max_size=16),
        "group": st.none() | st.text(max_size=4),
        "metadata": st.dictionaries(st.text(max_size=4), SAFE_JSON, max_size=4),
        "response_images": st.just([]),
    },
)
PLAIN_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "return_components": st.booleans(),
        "cache": st.booleans(),
        "explain": st.booleans(),
        "return_steps": st.booleans(),
        "deadline_ms": st.none() | st.integers(min_value=1, max_value=10**9),
    },
)
PLAIN_BODY = st.fixed_dictionaries(
    {"pipeline": st.text(max_size=10), "items": st.lists(PLAIN_ITEM, min_size=1, max_size=4)},
    optional={"options": PLAIN_OPTIONS},
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PLAIN_BODY)
def test_every_plain_body_takes_the_fast_path_to_the_wire_models_call(body):
    raw = json.dumps(body).encode()
    fast = simple_score_call(raw)
    assert fast is not None, raw
    assert fast == wire_call(raw), raw
