"""The client's request body: orjson writes it, ``json.dumps`` still decides what is plain JSON.

``encode_body`` must send what the ``json`` encoder sent before (the same JSON value) and
refuse what it refused, with :class:`InvalidInput`; orjson is only the faster writer.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import uuid

import pytest
from rewardgate_client._http import encode_body
from rewardgate_client.errors import InvalidInput


def json_body(body: dict) -> bytes:
    """What the client sent before orjson wrote it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class Text(str):
    pass


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        "answer 7",
        'ünïcödé ✓ \n "quoted" \\ \x01',
        None,  # a null: json checks there is no NaN behind it
        [1, 2.5, True, False, None],
        (1, 2),
        {"nested": {"deep": [{"a": "b"}]}},
        {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},  # json makes them strings
        2**70,  # beyond 64 bits: orjson refuses, json writes it
        Text("a str subclass"),
        -0.0,
        1.5,
    ],
)
def test_the_body_is_the_json_value_json_wrote(value):
    body = {
        "pipeline": "p",
        "items": [{"response": "x", "metadata": {"v": value}}],
        "options": {"cache": False},
    }
    assert json.loads(encode_body(body)) == json.loads(json_body(body))


def test_the_common_body_is_byte_for_byte_what_json_wrote():
    body = {
        "pipeline": "exact",
        "items": [{"response": "answer 7", "reference": "answer 7", "id": "0"}],
        "options": {"cache": False, "deadline_ms": 59_999},
    }
    assert encode_body(body) == json_body(body)


@pytest.mark.parametrize(
    "value",
    [
        math.nan,  # orjson would write null: json's refusal stands
        math.inf,
        -math.inf,
        datetime.date(2026, 1, 1),
        datetime.datetime(2026, 1, 1, 12, 0),
        Point(1),
        {1, 2},
        b"bytes",
        object(),
        "\ud800",  # a lone surrogate is no UTF-8
    ],
    ids=repr,
)
def test_what_json_refused_is_invalid_input(value):
    body = {"pipeline": "p", "items": [{"response": "x", "metadata": {"v": value}}], "options": {}}
    with pytest.raises(InvalidInput, match="not plain JSON"):
        encode_body(body)


def test_a_nan_beside_a_null_is_still_refused():
    body = {"pipeline": "p", "items": [{"response": "x", "reference": None}], "options": {"w": math.nan}}
    with pytest.raises(InvalidInput, match="not plain JSON"):
        encode_body(body)


def test_a_circular_body_is_invalid_input():
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(InvalidInput, match="not plain JSON"):
        encode_body({"pipeline": "p", "items": [{"response": "x", "metadata": loop}], "options": {}})


class Colour(enum.Enum):
    RED = "red"


def test_a_uuid_and_a_plain_enum_member_are_written_where_json_refused_them():
    # The one place orjson's verdict stands (clients/README.md): it writes both.
    run = uuid.UUID("12345678-1234-5678-1234-567812345678")
    body = {"pipeline": "p", "items": [{"response": "x", "metadata": {"run": run, "c": Colour.RED}}]}
    with pytest.raises(TypeError):
        json_body(body)
    assert json.loads(encode_body(body))["items"][0]["metadata"] == {"run": str(run), "c": "red"}
