"""Structure rules: JSON validity and JSON-Schema conformance with partial credit.

The JSON is the content of the first fenced code block of the response
(```json … ``` or ``` … ```) when there is one, else the whole response.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, field_validator, model_validator

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams

_FENCE = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL)
_NOT_JSON = object()


def extract_json(response: str) -> Any:
    """The parsed JSON of the response, or ``_NOT_JSON``."""
    fenced = _FENCE.search(response)
    text = fenced.group(1) if fenced else response
    try:
        return json.loads(text.strip())
    except (ValueError, RecursionError):
        return _NOT_JSON


class JsonValid(Rule):
    """1.0 when the response (or its first fenced block) parses as JSON, else 0.0."""

    type_name = "json_valid"
    reads = ("response",)

    def evaluate(self, item: ScoringItem) -> float:
        return 0.0 if extract_json(item.response) is _NOT_JSON else 1.0


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
                Draft202012Validator.check_schema(schema)
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

    * not JSON: 0.0; a document that validates: 1.0;
    * otherwise ``parse_credit + (1 - parse_credit) x f``, where ``f`` is the
      fraction of the schema's top-level ``properties`` that are correct (present
      and valid, or absent and not required); 0 for a document of the wrong type.
    """

    type_name = "json_schema"
    Params = JsonSchemaParams

    @property
    def reads(self) -> tuple[str, ...]:
        return ("response", "reference") if self.params.schema_source == "reference" else ("response",)

    def evaluate(self, item: ScoringItem) -> float:
        schema = self.params.schema_ or self._schema_from_reference(item)
        document = extract_json(item.response)
        if document is _NOT_JSON:
            return 0.0
        if _validator(json.dumps(schema, sort_keys=True)).is_valid(document):
            return 1.0
        return self.params.parse_credit + (1 - self.params.parse_credit) * _property_fraction(
            schema, document
        )

    def _schema_from_reference(self, item: ScoringItem) -> dict[str, Any]:
        try:
            schema = json.loads(self.require_reference(item))
            Draft202012Validator.check_schema(schema)
        except (ValueError, SchemaError) as exc:
            raise InvalidReference(f"the reference is not a JSON Schema: {exc}") from exc
        return schema


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _property_fraction(schema: dict[str, Any], document: Any) -> float:
    properties = schema.get("properties") or {}
    if not properties or not isinstance(document, dict):
        return 0.0
    required = set(schema.get("required", []))
    correct = 0
    for name, subschema in properties.items():
        if name in document:
            correct += _validator(json.dumps(subschema, sort_keys=True)).is_valid(document[name])
        else:
            correct += name not in required
    return correct / len(properties)
