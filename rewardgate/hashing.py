"""The one content hash of configuration values (pipeline hashes, source versions, cache keys)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_sha256(value: Any) -> str:
    """sha256 hex digest of the canonical JSON encoding of ``value`` (sorted keys, no spaces)."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
