"""Validation problems as one line of text, the same on both transports.

A pydantic error becomes ``LOCATION: message`` (``body.items.0.response:
Field required``); HTTP puts the line in its 422 envelope, gRPC in its
INVALID_ARGUMENT detail.
"""

from __future__ import annotations


def describe_problem(error: dict) -> str:
    """One pydantic error as ``LOCATION: message``; checks that name their own path keep it."""
    message = str(error.get("msg", "invalid"))
    if message.startswith("Value error, body"):  # rewardgate.plain_json names the exact path
        return message.removeprefix("Value error, ")
    location = ".".join(str(part) for part in error.get("loc", ()))
    return f"{location}: {message}"


def describe_validation_errors(errors: list[dict], location: str | None = None) -> str:
    """``body.items.0.response: Field required; ...`` (the first few problems).

    ``location`` prefixes each path, for errors of a model validated on its own
    (FastAPI's already start with ``body``).
    """
    if location is not None:
        errors = [{**error, "loc": (location, *error.get("loc", ()))} for error in errors]
    parts = [describe_problem(error) for error in errors[:5]]
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
