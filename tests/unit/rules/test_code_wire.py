"""The sandbox's plain-data codec: what crosses is values rebuilt by the receiver, never behaviour."""

import collections
import decimal
import fractions
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgate.sources.rule.sandbox import wire


def cross(value, to_handle=None):
    """``value`` through a real line of the protocol, as the other side sees it."""
    return wire.decode(wire.loads(wire.dumps({"v": wire.encode(value, to_handle)}))["v"])


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary()
keys = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
hashables = st.deferred(lambda: keys | st.tuples(hashables, hashables) | st.frozensets(keys, max_size=3))
plain = st.deferred(
    lambda: (
        scalars
        | st.lists(plain, max_size=4)
        | st.tuples(plain, plain)
        | st.dictionaries(hashables, plain, max_size=4)
        | st.sets(hashables, max_size=4)
    )
)


def same(a, b) -> bool:
    """Equal with the same types all the way down (nan equals nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return same(list(a.items()), list(b.items()))
    return a == b


@settings(max_examples=150, deadline=None)
@given(plain)
def test_plain_data_crosses_unchanged_with_its_types(value):
    assert same(cross(value), value)


@pytest.mark.parametrize(
    "value",
    [
        10**5000,  # beyond the decimal-digit limit of int(str): crosses in hex
        -(2**64) - 3,
        collections.Counter("abracadabra"),
        collections.OrderedDict([("b", 1), ("a", 2)]),
        collections.deque([1, 2, 3]),
        decimal.Decimal("1.10"),
        fractions.Fraction(10**30, 7),
        complex(1.5, float("-inf")),
        range(2, 20, 3),
        slice(1, None, 2),
        bytearray(b"\x00\xff"),
        {"a": 1}.keys(),
        {(1, 2): [3]}.items(),
    ],
    ids=lambda value: type(value).__name__,
)
def test_standard_library_value_types_cross_as_the_receivers_own(value):
    received = cross(value)
    assert type(received) is type(value)
    assert received == value


def test_named_tuples_are_rebuilt_with_their_fields():
    Point = collections.namedtuple("Point", "x y")
    received = cross(Point(1, [2]))
    assert received == (1, [2]) and received.y == [2] and type(received).__name__ == "Point"
    assert type(received) is not Point  # the receiver's own class


class RiggedInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class RiggedStr(str):
    def __eq__(self, other):
        return True

    def __str__(self):
        return "forged"

    __hash__ = str.__hash__


class RiggedList(list):
    def __iter__(self):
        return iter([1, 2, 3])

    def __eq__(self, other):
        return True

    def __contains__(self, item):
        return True


class RiggedDict(dict):
    def items(self):
        return [("forged", 1)]

    def __eq__(self, other):
        return True


@pytest.mark.parametrize(
    ("rigged", "plain_value"),
    [
        (RiggedInt(4), 4),
        (RiggedStr("abc"), "abc"),
        (RiggedList([7]), [7]),
        (RiggedDict(a=1), {"a": 1}),
        ((RiggedInt(1), [RiggedStr("x")]), (1, ["x"])),
    ],
    ids=["int", "str", "list", "dict", "nested"],
)
def test_a_subclass_crosses_as_its_base_value_without_its_methods(rigged, plain_value):
    received = cross(rigged)
    assert same(received, plain_value)
    assert received != object()  # the rigged __eq__ stayed behind


def test_other_objects_go_through_the_handle_hook_or_are_refused():
    marker = object()
    encoded = wire.encode([marker], lambda value: {"h": 7} if value is marker else None)
    assert wire.decode(encoded, Handles()) == [Handle(7)]
    with pytest.raises(wire.Unencodable):
        wire.encode([marker])
    with pytest.raises(wire.Unencodable):
        wire.encode(nested(wire.MAX_DEPTH + 2))


class Handle:
    def __init__(self, number):
        self.number = number

    def __eq__(self, other):
        return isinstance(other, Handle) and other.number == self.number


class Handles:
    def handle(self, number):
        return Handle(number)


def test_handles_decode_through_the_receivers_table():
    assert wire.decode({"l": [{"h": 3}]}, Handles()) == [Handle(3)]


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "data",
    [
        {"zz": []},  # unknown tag
        {"l": [1], "t": [2]},  # two tags
        {"h": 1},  # a handle where none are expected
        {"s": [{"l": []}]},  # unhashable set member
        {"d": [[1]]},  # not a pair
        {"b": "not base64!"},
        {"i": "12z"},
        {"dec": "not a number"},
        {"fr": [1, 0]},  # zero denominator
        {"fr": [1.5, 2]},
        {"c": ["1", 2]},
        {"r": [0, 5, 0]},  # zero step
        {"nt": ["Point", ["x", "x"], [1, 2]]},  # duplicate field
        {"nt": ["Point", ["x"], [1, 2]]},  # too many values
        {"f": "1.5"},
        [1, 2],  # a bare JSON list is not a value
        {"l": nested(wire.MAX_DEPTH + 2)},
    ],
    ids=repr,
)
def test_malformed_data_is_a_wire_error_never_a_half_decoded_value(data):
    with pytest.raises(wire.WireError):
        wire.decode(json.loads(json.dumps(data)))


def test_lines_are_bounded():
    with pytest.raises(wire.WireError):
        wire.loads(b"[1]")  # no newline: truncated
    with pytest.raises(wire.WireError):
        wire.loads(b" " * (wire.MAX_LINE_BYTES + 1) + b"\n")
