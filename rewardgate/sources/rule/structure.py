"""Structure rules: JSON validity and JSON-Schema conformance with partial credit.

The JSON is the content of the first fenced code block of the response
(```json … ``` or ``` … ```) when there is one, else the whole response.

Structure rules validate before they score: a document is parsed strictly
(RFC 8259: no ``NaN``/``Infinity``, no number that overflows to infinity, no
duplicate keys, which parsers resolve differently), validated against the
schema in the dialect its ``$schema`` names (2020-12 by default) with
``format`` asserted, and only a document that validates scores 1.0.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import Field, field_validator, model_validator
from referencing.exceptions import Unresolvable

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams

_FENCE = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL)
_NOT_JSON = object()


def extract_json(response: str) -> Any:
    """The strictly parsed JSON of the response (see :func:`parse_strict`), or ``_NOT_JSON``."""
    fenced = _FENCE.search(response)
    text = fenced.group(1) if fenced else response
    try:
        return parse_strict(text.strip())
    except (ValueError, RecursionError):
        return _NOT_JSON


def parse_strict(text: str) -> Any:
    """RFC 8259 JSON only: ``NaN``, ``Infinity``, numbers past the float range and
    duplicate object keys raise :class:`ValueError`."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, object_pairs_hook=_unique)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} overflows a float")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("duplicate keys in an object")
    return document


class JsonValid(Rule):
    """1.0 when the response (or its first fenced block) parses as JSON, else 0.0."""

    type_name = "json_valid"
    reads = ("response",)

    def grade(self, item: ScoringItem) -> float:
        return 0.0 if extract_json(item.response) is _NOT_JSON else 1.0  # strictly parsed


class JsonSchemaParams(RuleParams):
    schema_: dict[str, Any] | None = Field(
        None, alias="schema", description="The JSON Schema; omitted = read it from the item's reference."
    )
    parse_credit: float = Field(0.2, ge=0, le=1, description="Score of valid JSON that fits no property.")
    schema_source: Literal["config", "reference"] = "config"

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            try:
                check_schema(schema)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
        return schema

    @model_validator(mode="after")
    def _schema_somewhere(self) -> JsonSchemaParams:
        if (self.schema_ is None) == (self.schema_source == "config"):
            raise ValueError(
                "give 'schema' with schema_source=config, or neither with schema_source=reference"
            )
        return self


class JsonSchema(Rule):
    """JSON-Schema conformance with partial credit, in [0, 1].

    * not JSON (strictly, see :func:`parse_strict`): 0.0; a document that validates: 1.0;
    * otherwise ``parse_credit + (1 - parse_credit) x correct / (named + 1)``:
      ``named`` are the schema's top-level ``properties`` and ``required``
      names, ``correct`` those present without any validation error under
      them; the extra share is the document as a whole, which only a valid
      document earns, so an invalid document always scores below 1.0 and an
      absent property earns nothing. 0 shares for a document of the wrong type.
    """

    type_name = "json_schema"
    Params = JsonSchemaParams

    @property
    def reads(self) -> tuple[str, ...]:
        return ("response", "reference") if self.params.schema_source == "reference" else ("response",)

    def grade(self, item: ScoringItem) -> float:
        schema = self.params.schema_ or self._schema_from_reference(item)
        document = extract_json(item.response)
        if document is _NOT_JSON:
            return 0.0
        try:
            errors = list(_validator(json.dumps(schema, sort_keys=True)).iter_errors(document))
        except Unresolvable as exc:  # remote $refs are never fetched
            raise InvalidReference(f"the schema has a $ref that cannot be resolved: {exc}") from exc
        if not errors:
            return 1.0
        return self.params.parse_credit + (1 - self.params.parse_credit) * _partial_share(
            schema, document, errors
        )

    def _schema_from_reference(self, item: ScoringItem) -> dict[str, Any]:
        try:
            schema = json.loads(self.require_reference(item))
            if not isinstance(schema, dict | bool):
                raise ValueError(f"a schema is an object, not {type(schema).__name__}")
            check_schema(schema)
        except (ValueError, SchemaError) as exc:
            raise InvalidReference(f"the reference is not a JSON Schema: {exc}") from exc
        return schema


def check_schema(schema: dict[str, Any] | bool) -> None:
    """Raises :class:`SchemaError` unless ``schema`` is valid in the dialect it names."""
    validator_for(schema, default=Draft202012Validator).check_schema(schema)


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str):
    """The validator of the schema's own dialect (``$schema``; 2020-12 when absent), asserting ``format``."""
    schema = json.loads(schema_json)
    cls = validator_for(schema, default=Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _partial_share(schema: Any, document: Any, errors: list) -> float:
    """Share of an invalid ``document``'s credit: named top-level members present and valid,
    over the named members plus one (the whole document, never earned when invalid)."""
    if not isinstance(schema, dict) or not isinstance(document, dict):
        return 0.0
    properties = schema.get("properties")
    required = schema.get("required")
    named = {
        *(properties if isinstance(properties, dict) else ()),
        *(name for name in (required if isinstance(required, list) else ()) if isinstance(name, str)),
    }
    failing = {error.absolute_path[0] for error in errors if error.absolute_path}
    correct = sum(1 for name in named if name in document and name not in failing)
    return correct / (len(named) + 1)
