"""The identity of the code that computes a score, for source versions and cache keys.

A cached verdict is only as good as the code that made it: after a rule fix, a
build sharing Redis with the old one must not serve the old build's verdicts
(docs/architecture.md#score-cache-and-single-flight). A source's version
therefore covers, besides its configuration, :func:`code_fingerprint` of the
module that computes it: a sha256 over the source text of that module and of
every ``rewardgate`` module it imports, transitively, and the installed
versions of the distributions those modules import (math-verify, sympy,
sacrebleu, sqlglot, jsonschema, ...).

Imports are read from the syntax tree, so the ones inside functions count too
(math-verify is imported lazily in the verifier workers). Computed once per
module per process.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import re
import sys

_PACKAGE = "rewardgate"
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@functools.cache
def code_fingerprint(module: str) -> str:
    """``sha256:`` over the source of ``module`` and the ``rewardgate`` modules it reaches by
    imports, and the versions of the distributions they import; stable while neither changes."""
    digest = hashlib.sha256()
    modules, libraries = _closure(module)
    for name in sorted(modules):
        digest.update(name.encode() + b"\0" + modules[name] + b"\0")
    for name, version in sorted(libraries.items()):
        digest.update(f"{name}=={version}\n".encode())
    return "sha256:" + digest.hexdigest()


@functools.cache
def library_versions(module: str) -> dict[str, str]:
    """The distributions (name -> version) the code behind ``module`` imports."""
    return dict(_closure(module)[1])


@functools.cache
def _closure(start: str) -> tuple[dict[str, bytes], dict[str, str]]:
    sources: dict[str, bytes] = {}
    roots: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in sources:
            continue
        text = _source(name)
        if text is None:
            continue
        sources[name] = text
        for imported in _imports(name, text):
            if imported == _PACKAGE or imported.startswith(_PACKAGE + "."):
                pending.append(imported)
            else:
                roots.add(imported.partition(".")[0])
    return sources, _versions(roots)


def _source(name: str) -> bytes | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, "rb") as handle:
        return handle.read()


def _imports(name: str, text: bytes) -> set[str]:
    """Modules ``name`` imports anywhere in its text; ``from P import x`` also names ``P.x``,
    which is kept only if it is a module."""
    found: set[str] = set()
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            if base.startswith(_PACKAGE) and _is_package(base):
                found.update(f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}"))
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _is_package(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.submodule_search_locations is not None


@functools.cache
def _providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _versions(roots: set[str]) -> dict[str, str]:
    """Installed versions of the distributions providing the top-level modules ``roots`` and of
    their requirements two levels down (math-verify's parser is sympy's and latex2sympy's); the
    standard library is covered by Python's version, SQLite by its own.

    The result depends on the installation only, never on the order the roots are visited in
    (a set's order changes with each process's hash seed): each distribution is expanded with
    the most depth it is reached with, so two replicas of one build agree on every cache key."""
    versions = {"python": ".".join(map(str, sys.version_info[:3]))}
    if "sqlite3" in roots:
        import sqlite3

        versions["sqlite"] = sqlite3.sqlite_version
    expanded: dict[str, int] = {}
    for root in sorted(roots):
        if root in sys.stdlib_module_names:
            continue
        for distribution in _providers().get(root, ()):
            _add_distribution(distribution, versions, expanded, depth=2)
    return versions


def _add_distribution(name: str, versions: dict[str, str], expanded: dict[str, int], depth: int) -> None:
    try:
        found = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return
    key = found.metadata["Name"].lower().replace("_", "-")
    if expanded.get(key, -1) >= depth:
        return  # already expanded at least this deep
    versions[key] = found.version
    expanded[key] = depth
    if depth <= 0:
        return
    for requirement in found.requires or ():
        if "extra ==" in requirement:
            continue
        _add_distribution(_REQUIREMENT_NAME.match(requirement).group(0), versions, expanded, depth - 1)
