"""Batched key derivation: ``cache_keys`` gives exactly ``cache_key``'s strings.

Replicas share Redis entries, so a key's bytes are a wire contract: the batched
form used on the hot path must not change one of them.
"""

from __future__ import annotations

import hashlib

import pytest

from rewardgate.items import ScoringItem
from rewardgate.store.cache import cache_key, cache_keys

ITEMS = [
    ScoringItem("a prompt", "answer 7", "answer 7"),
    ScoringItem(
        [{"role": "user", "content": "zürich?"}, {"role": "assistant", "content": "x", "name": "n"}],
        "réponse",
        None,
        {"b": 1, "a": [1.5, {"z": None, "y": True}]},
        steps=("one", "two"),
        response_images=("data:image/png;base64,AAAA",),
    ),
    ScoringItem("", "", ""),
]


@pytest.mark.parametrize(
    "reads",
    [
        (),
        ("response",),
        ("response", "reference"),
        ("prompt", "response", "metadata", "steps", "response_images"),
    ],
)
def test_cache_keys_are_the_keys_of_cache_key(reads):
    assert cache_keys("fingerprint", reads, ITEMS) == [
        cache_key("fingerprint", reads, item) for item in ITEMS
    ]


def test_a_known_key_keeps_its_value():
    # Pinned: a change here would orphan every entry other replicas wrote to Redis.
    item = ScoringItem("", "answer 7", "answer 7")
    expected = "v1:" + hashlib.blake2b(b'["fp",["answer 7","answer 7"]]', digest_size=16).hexdigest()
    assert cache_keys("fp", ("response", "reference"), [item]) == [expected]
    assert cache_key("fp", ("response", "reference"), item) == expected
