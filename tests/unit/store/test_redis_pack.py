"""pack_mget writes the Redis cache's lookup command byte for byte as redis-py does (replicas and
any Redis proxy see the same command whichever writes it)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.connection import Connection, PythonRespSerializer

from rewardgate.store.cache import cache_keys
from rewardgate.store.redis_reads import pack_mget


def redis_py(prefix: str, keys: list[str]) -> bytes:
    connection = Connection()  # never connects: only its packer is used
    python = PythonRespSerializer(connection._buffer_cutoff, connection.encoder.encode)
    packed = b"".join(connection.pack_command("MGET", *[prefix + key for key in keys]))
    assert packed == b"".join(python.pack("MGET", *[prefix + key for key in keys]))  # hiredis's == Python's
    return packed


def test_a_requests_keys_are_one_join_and_the_same_bytes():
    keys = [f"v1:{i:032x}" for i in range(64)]
    assert pack_mget("rewardgate:", keys) == redis_py("rewardgate:", keys)


def test_the_keys_cache_keys_derives():
    from rewardgate.items import ScoringItem

    items = [ScoringItem(prompt="p", response=f"answer {i}", reference="answer 7") for i in range(3)]
    keys = cache_keys("exact@1", ("response", "reference"), items)
    assert pack_mget("ns:", keys) == redis_py("ns:", keys)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.text(max_size=12),
    keys=st.lists(st.text(max_size=20), min_size=1, max_size=8)
    | st.integers(1, 8).flatmap(lambda n: st.lists(st.text(min_size=4, max_size=4), min_size=n, max_size=n)),
)
def test_any_prefix_and_keys_pack_as_redis_py_packs_them(prefix, keys):
    try:
        expected = redis_py(prefix, keys)
    except UnicodeEncodeError:  # a lone surrogate: neither side can encode it
        with pytest.raises(UnicodeEncodeError):
            pack_mget(prefix, keys)
    else:
        assert pack_mget(prefix, keys) == expected
