"""Whose state a request sees: cache entries and running statistics are the caller's tenant's.

With API keys configured, each key (by its configured name) is a tenant: a
second key neither sees in ``cached`` that another scored the same text, nor
moves another's ``standardize`` statistics. A pipeline may declare either
shared (``shared: [cache, statistics]``): then every caller reads and feeds
one cache and one set of statistics, as they do when authentication is off.
"""

from __future__ import annotations

from typing import Literal

from rewardgate.auth.caller import current_key

State = Literal["cache", "statistics"]


def tenant_scope(pipeline, state: State) -> str | None:
    """The tenant whose ``state`` the current request of ``pipeline`` reads and writes; None when
    it is shared (authentication off, or the pipeline declares it ``shared``)."""
    key = current_key.get()
    if key is None or state in pipeline.spec.shared:
        return None
    return key.name
