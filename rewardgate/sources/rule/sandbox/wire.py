"""Plain data across the sandbox boundary: a tagged JSON codec and line framing.

Runs on both sides of the boundary (the judge, the candidate, the session
init and the host), so it imports only the standard library.

Only these values cross: ``None``, ``bool``, ``int``, finite or non-finite
``float``, ``str``, ``bytes``, and ``list``/``tuple``/``dict``/``set``/
``frozenset`` of them, matched by exact type (a subclass of ``int`` with a
custom ``__eq__`` is *not* plain data). Anything else the candidate produces
crosses as an opaque handle ``{"h": n}``. Decoding is strict: an unknown tag,
a nesting deeper than :data:`MAX_DEPTH` or a line longer than
:data:`MAX_LINE_BYTES` raises :class:`WireError`, never a half-decoded value.

Encoding: JSON scalars stand for themselves (a JSON object is never a value),
containers are tagged objects: ``{"l": [...]}``, ``{"t": [...]}``,
``{"d": [[k, v], ...]}``, ``{"s": [...]}``, ``{"fs": [...]}``,
``{"b": "<base64>"}``, ``{"f": "nan" | "inf" | "-inf"}``.
"""

import base64
import json
import math

MAX_DEPTH = 64
MAX_LINE_BYTES = 16 * 1024 * 1024


class WireError(Exception):
    """A message that is not well-formed plain data (or too large / too deep)."""


class Unencodable(Exception):
    """A value that is not plain data; the caller decides whether that means a handle."""


_SEQUENCES = {list: "l", tuple: "t", set: "s", frozenset: "fs"}
_BUILD = {"l": list, "t": tuple, "s": set, "fs": frozenset}


def encode(value, to_handle=None, depth=0):
    """``value`` as JSON-able data; non-plain values go through ``to_handle``
    (which returns a JSON-able tag) or raise :class:`Unencodable`."""
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"f": repr(value)}
    if kind in _SEQUENCES:
        return {_SEQUENCES[kind]: [encode(item, to_handle, depth + 1) for item in value]}
    if kind is dict:
        pairs = value.items()
        return {"d": [[encode(k, to_handle, depth + 1), encode(v, to_handle, depth + 1)] for k, v in pairs]}
    if kind is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    if to_handle is None:
        raise Unencodable(f"{kind.__name__} is not plain data")
    return to_handle(value)


def decode(data, from_handle=None, depth=0):
    """The inverse of :func:`encode`; ``from_handle(n)`` builds handle values.

    Raises:
        WireError: anything that is not a well-formed encoding.
    """
    if depth > MAX_DEPTH:
        raise WireError("nested too deeply")
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is not dict or len(data) != 1:
        raise WireError(f"not an encoded value: {kind.__name__}")
    ((tag, body),) = data.items()
    try:
        return _decode_tagged(tag, body, from_handle, depth)
    except (TypeError, ValueError) as exc:  # unhashable keys, bad base64, wrong shapes
        raise WireError(f"malformed {tag!r} value: {exc}") from None


def _decode_tagged(tag, body, from_handle, depth):
    if tag in _BUILD and type(body) is list:
        return _BUILD[tag](decode(item, from_handle, depth + 1) for item in body)
    if tag == "d" and type(body) is list:
        return {
            decode(k, from_handle, depth + 1): decode(v, from_handle, depth + 1) for k, v in map(_pair, body)
        }
    if tag == "b" and type(body) is str:
        return base64.b64decode(body, validate=True)
    if tag == "f" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "h" and type(body) is int and from_handle is not None:
        return from_handle(body)
    raise WireError(f"unknown tag {tag!r}")


def _pair(item):
    if type(item) is not list or len(item) != 2:
        raise WireError("a dict entry is not a [key, value] pair")
    return item


def dumps(message) -> bytes:
    """One message as one line."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def loads(line: bytes):
    """Parse one line; raises :class:`WireError` on anything malformed."""
    if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
        raise WireError("message too long or truncated")
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"not JSON: {exc}") from None


def read_message(stream):
    """The next message from a binary file object; ``None`` at end of stream."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if not line:
        return None
    return loads(line)
