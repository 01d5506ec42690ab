"""Structure rules validate before they score (docs/rules.md#structure).

Generalisation under test: only a document that validates against its schema
scores 1.0. The JSON is parsed strictly, the schema is read in its own
dialect with ``format`` asserted, and partial credit for an invalid document
stays below 1.0 whatever part of the schema it breaks.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule


def score(rule_type: str, response: str, **params) -> float:
    return build_rule(rule_type, params).grade(ScoringItem("", response, None, {}))


def schema_score(schema: dict, document) -> float:
    """The rule's score of ``document`` written as JSON (a string document is a JSON string)."""
    return score("json_schema", json.dumps(document), schema=schema)


PERSON = {"type": "object", "properties": {"name": {"type": "string"}}}
#: A document that is right on every listed property but breaks the schema elsewhere.
BROKEN_ELSEWHERE = [
    ({**PERSON, "required": ["name", "age"]}, {"name": "Ada"}),
    ({**PERSON, "additionalProperties": False}, {"name": "Ada", "admin": True}),
    ({**PERSON, "minProperties": 2}, {"name": "Ada"}),
    ({**PERSON, "maxProperties": 1}, {"name": "Ada", "x": 1}),
    ({**PERSON, "dependentRequired": {"name": ["id"]}}, {"name": "Ada"}),
    ({**PERSON, "allOf": [{"required": ["id"]}]}, {"name": "Ada"}),
    ({**PERSON, "if": {"required": ["name"]}, "then": {"required": ["id"]}}, {"name": "Ada"}),
    ({**PERSON, "patternProperties": {"^x_": {"type": "integer"}}}, {"name": "Ada", "x_a": "one"}),
    ({**PERSON, "propertyNames": {"maxLength": 3}}, {"name": "Ada"}),
    ({**PERSON, "not": {"required": ["name"]}}, {"name": "Ada"}),
    ({**PERSON, "oneOf": [{"required": ["name"]}, {"required": ["name"]}]}, {"name": "Ada"}),
    ({**PERSON, "unevaluatedProperties": False}, {"name": "Ada", "extra": 1}),
    ({**PERSON, "const": {"name": "Bob"}}, {"name": "Ada"}),
]


@pytest.mark.parametrize(("schema", "document"), BROKEN_ELSEWHERE, ids=[str(s) for s, _ in BROKEN_ELSEWHERE])
def test_a_document_that_fails_its_schema_never_scores_one(schema, document):
    assert not Draft202012Validator(schema).is_valid(document)
    assert 0.2 <= schema_score(schema, document) < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "Infinity",
        "-Infinity",
        '{"age": NaN}',
        '{"age": 1e999}',
        "[-1e400]",
        '{"a": 1, "a": 2}',
        '{"name": "Ada", "name": 7}',
        "{'a': 1}",
        '{"a": 1} trailing',
    ],
)
def test_only_strict_json_is_json(text):
    assert score("json_valid", text) == 0.0
    assert score("json_schema", text, schema={"type": ["object", "number", "array"]}) == 0.0


@pytest.mark.parametrize(
    ("fmt", "bad", "good"),
    [
        ("email", "not an email", "ada@example.org"),
        ("date", "yesterday", "2024-02-29"),
        ("date-time", "2024-13-01T00:00:00Z", "2024-01-01T12:00:00Z"),
        ("time", "25:00:00Z", "12:00:00Z"),
        ("uri", "not a uri", "https://example.org/a"),
        ("ipv4", "999.1.1.1", "10.0.0.1"),
        ("ipv6", "::g", "::1"),
        ("hostname", "-bad-.example", "example.org"),
        ("uuid", "1234", "123e4567-e89b-12d3-a456-426614174000"),
        ("regex", "(", "a+"),
        ("json-pointer", "no-slash", "/a/b"),
    ],
)
def test_format_is_asserted(fmt, bad, good):
    schema = {"type": "object", "properties": {"v": {"type": "string", "format": fmt}}, "required": ["v"]}
    assert schema_score(schema, {"v": good}) == 1.0
    assert schema_score(schema, {"v": bad}) < 1.0


@pytest.mark.parametrize(
    ("schema", "invalid", "valid"),
    [
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "items": [{"type": "integer"}],
                "additionalItems": False,
            },
            [1, "extra"],
            [1],
        ),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": {"a": ["b"]}},
            {"a": 1},
            {"a": 1, "b": 2},
        ),
        (
            {"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": True},
            5,
            4,
        ),
    ],
    ids=["draft-07 additionalItems", "draft-07 dependencies", "draft-04 exclusiveMaximum"],
)
def test_a_schema_is_read_in_the_dialect_it_names(schema, invalid, valid):
    assert schema_score(schema, valid) == 1.0
    assert schema_score(schema, invalid) < 1.0


def test_absent_properties_earn_nothing_and_padding_does_not_dilute():
    optional = {f"p{i}": {"type": "integer"} for i in range(9)}
    schema = {"type": "object", "properties": {"id": {"type": "string"}, **optional}, "required": ["id"]}
    assert schema_score(schema, {}) == pytest.approx(0.2)
    # Every optional property right but the required one missing: still below a valid document.
    assert schema_score(schema, {k: 1 for k in optional}) < 1.0
    assert schema_score(schema, {"id": "a"}) == 1.0


def test_a_schema_ref_that_cannot_be_resolved_is_an_invalid_reference():
    from rewardgate.errors import InvalidReference

    rule = build_rule("json_schema", {"schema_source": "reference"})
    with pytest.raises(InvalidReference, match="ref"):
        rule.grade(ScoringItem("", "{}", json.dumps({"$ref": "https://example.org/s.json"}), {}))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "a", "Ada", "x@y.z"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["name", "age", "tags", "x"]), children, max_size=4)
    ),
    max_leaves=8,
)
SCHEMAS = [
    {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
        "minProperties": 1,
    },
    {"type": "array", "items": {"type": "integer"}, "minItems": 1},
    {"anyOf": [{"type": "string", "format": "email"}, {"type": "object", "required": ["x"]}]},
]


@settings(max_examples=150, deadline=None)
@given(document=JSON_VALUES, which=st.integers(0, len(SCHEMAS) - 1))
def test_one_point_zero_exactly_when_the_document_validates(document, which):
    schema = SCHEMAS[which]
    valid = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(
        document
    )
    value = schema_score(schema, document)
    assert (value == 1.0) == valid
    assert 0.0 <= value <= 1.0
