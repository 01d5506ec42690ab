"""The base of every declarative YAML shape (pipeline file, algebra, judges)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not be silently ignored); values are frozen.

    ``populate_by_name`` lets keys that are Python keywords in YAML (``if``,
    ``lambda``) be aliases of ordinary field names.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
