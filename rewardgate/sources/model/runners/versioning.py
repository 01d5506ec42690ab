"""Model identity: a content hash of the files a model is loaded from."""

from __future__ import annotations

import hashlib
from pathlib import Path

# Files that never change a model's outputs.
_IGNORED = {"README.md", ".gitattributes", "LICENSE", "LICENSE.txt"}


def directory_version(path: Path) -> str:
    """``sha256:<hex>`` over every file's relative path and content, in sorted order.

    Weights, config, tokenizer and chat template all enter the hash, because
    each of them changes the score.
    """
    digest = hashlib.sha256()
    root = Path(path)
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _IGNORED):
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return "sha256:" + digest.hexdigest()
