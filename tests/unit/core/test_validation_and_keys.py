"""Request limits and cache keys."""

import pytest

from rewardgate.api.http.codec import score_call
from rewardgate.api.http.schemas import ScoreRequest
from rewardgate.core.calls import CallItem, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidInput, PayloadTooLarge
from rewardgate.items import ScoringItem
from rewardgate.store.cache import InMemoryScoreCache, cache_key, decode_scores, encode_scores

LIMITS = Limits(max_items_per_request=3, max_text_chars=10, default_deadline_ms=1000, max_deadline_ms=5000)


def request(*items, **options) -> ScoreCall:
    return score_call(ScoreRequest(pipeline="p", items=list(items), options=options))


def test_ids_default_to_the_index_and_deadline_to_the_server_default():
    validated = validate_call(request({"response": "a"}, {"id": "x", "response": "b"}), LIMITS)
    assert validated.ids == ["0", "x"]
    assert validated.deadline_s == 1.0


def test_a_call_without_items_is_invalid_whatever_built_it():
    with pytest.raises(InvalidInput, match="items: at least one item"):
        validate_call(ScoreCall("p", []), LIMITS)


def test_chat_prompts_become_message_lists():
    validated = validate_call(
        request({"prompt": [{"role": "user", "content": "hi"}], "response": "yo"}), LIMITS
    )
    assert validated.items[0].messages() == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
    ]


@pytest.mark.parametrize(
    ("items", "options", "error", "field"),
    [
        ([{"response": "a"}] * 4, {}, PayloadTooLarge, "items"),
        ([{"response": "a" * 11}], {}, PayloadTooLarge, "items[0].response"),
        ([{"prompt": "p" * 11, "response": "a" * 10}], {}, PayloadTooLarge, "items[0].prompt"),
        ([{"response": "a", "reference": "r" * 11}], {}, PayloadTooLarge, "items[0].reference"),
        (
            [{"prompt": [{"role": "user", "content": "p" * 11}], "response": "a"}],
            {},
            PayloadTooLarge,
            "items[0].prompt",
        ),
        ([{"id": "a", "response": "x"}, {"id": "a", "response": "y"}], {}, InvalidInput, "items[].id"),
        ([{"response": "a"}], {"deadline_ms": 6000}, InvalidInput, "options.deadline_ms"),
    ],
)
def test_limits_are_enforced_with_the_field_named(items, options, error, field):
    with pytest.raises(error) as caught:
        validate_call(request(*items, **options), LIMITS)
    assert caught.value.message.startswith(field)


BASE = ScoringItem(prompt="p", response="r", reference="ref", metadata={"task": "t"})


def test_cache_key_depends_only_on_fields_the_source_reads():
    reads = ("response", "reference")
    key = cache_key("fp", reads, BASE)
    assert key == cache_key("fp", reads, ScoringItem("other prompt", "r", "ref", {}))
    assert key != cache_key("fp", reads, ScoringItem("p", "r2", "ref"))
    assert key != cache_key("fp", reads, ScoringItem("p", "r", "ref2"))
    assert key != cache_key("fp2", reads, BASE)


def test_cache_key_distinguishes_text_prompts_from_chat_prompts():
    reads = ("prompt", "response")
    as_text = ScoringItem("hi", "r", None)
    as_chat = ScoringItem([{"role": "user", "content": "hi"}], "r", None)
    assert cache_key("fp", reads, as_text) != cache_key("fp", reads, as_chat)


async def test_in_memory_cache_round_trips_and_reports_misses():
    cache = InMemoryScoreCache(max_entries=10, ttl_s_by_kind={"model": 60, "rule": 60})
    await cache.set_many({"a": [1.5, -2.0]}, "model")
    assert await cache.get_many(["a", "b"]) == [[1.5, -2.0], None]


def test_score_encoding_is_compact_and_bit_exact():
    values = [0.1, -1e-300, 3.141592653589793, float(2**53)]
    blob = encode_scores(values)
    assert len(blob) == 8 * len(values)
    assert decode_scores(blob) == values


def _two_passes(call: ScoreCall, limits: Limits):
    """validate_call's general path for every item: images, then lengths (what it did before
    text items within the limits were settled in one loop)."""
    from rewardgate.core.validation import _check_text_lengths, _with_canonical_images

    items = [_with_canonical_images(i, e.item, limits.images) for i, e in enumerate(call.items)]
    for index, item in enumerate(items):
        _check_text_lengths(index, item, limits.max_text_chars)
    return items


def _outcome(function, call):
    try:
        return ("items", function(call))
    except (InvalidInput, PayloadTooLarge) as exc:
        return (type(exc), exc.message)


CHAT = [{"role": "user", "content": "hi"}]
BAD_IMAGE = "data:image/png;base64,bm90IGFuIGltYWdl"


@pytest.mark.parametrize(
    "items",
    [
        [ScoringItem("p" * 10, "a" * 10, "r" * 10, {}), ScoringItem("", "b", None, {})],
        [ScoringItem("p" * 11, "a", None, {})],
        [ScoringItem("p", "a" * 11, None, {})],
        [ScoringItem("p", "a", "r" * 11, {})],
        [ScoringItem("p", "a", "", {}), ScoringItem(CHAT, "a", None, {})],
        [ScoringItem(CHAT * 6, "a", None, {})],
        # a later item's bad image is found before an earlier item's length, as ever
        [ScoringItem("p", "a" * 11, None, {}), ScoringItem("p", "a", None, {}, response_images=(BAD_IMAGE,))],
        [ScoringItem("p", "a", None, {}, response_images=(BAD_IMAGE,))],
    ],
)
def test_text_items_within_the_limits_validate_as_the_general_path_does(items):
    call = ScoreCall("p", [CallItem(None, item) for item in items])
    fast = _outcome(lambda c: validate_call(c, LIMITS).items, call)
    general = _outcome(lambda c: _two_passes(c, LIMITS), call)
    assert fast == general
    if fast[0] == "items":  # the common case keeps each item as it came
        assert all(a is b for a, b in zip(fast[1], items, strict=True) if isinstance(b.prompt, str))
