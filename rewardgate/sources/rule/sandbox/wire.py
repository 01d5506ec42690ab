"""Plain data across the sandbox boundary: a tagged JSON codec and line framing.

Runs on both sides of the boundary (the examiner, the candidate, the session
init and the host), so it imports only the standard library.

What crosses is *values*, never behaviour. :func:`encode` turns a value into
JSON-able data and :func:`decode` builds the receiver's own objects from it,
so a rigged method of the sender (``__eq__``, ``__contains__``, ``__iter__``,
``__hash__``, ...) never crosses:

* ``None``, ``bool``, ``int`` (any size), ``float`` (``nan`` and infinities
  too), ``str``, ``bytes``, ``bytearray``, and ``list``/``tuple``/``dict``/
  ``set``/``frozenset`` of values;
* the standard library's value types an honest answer returns:
  ``collections.Counter``, ``OrderedDict``, ``deque``, named tuples (rebuilt
  as the receiver's own named tuple with the same fields), ``Decimal``,
  ``Fraction``, ``complex``, ``range``, ``slice`` and dict views;
* a subclass of any of these crosses as its base value: an ``int`` subclass
  with an always-true ``__eq__`` arrives as the plain integer it holds.

Anything else (functions, classes, instances of the sender's classes,
iterators) goes through the caller's ``to_handle`` hook, or raises
:class:`Unencodable`. Decoding is strict: an unknown tag, a nesting deeper
than :data:`MAX_DEPTH` or a line longer than :data:`MAX_LINE_BYTES` raises
:class:`WireError`, never a half-decoded value.

Encoding: JSON scalars stand for themselves (a JSON object is never a
value); everything else is a one-key tagged object, e.g. ``{"l": [...]}``,
``{"d": [[k, v], ...]}``, ``{"f": "nan"}``, ``{"i": "-0x1f..."}`` (integers
beyond 64 bits, in hex: linear time both ways, unlike decimal digits).
"""

import base64
import collections
import decimal
import fractions
import json
import math

MAX_DEPTH = 64
MAX_LINE_BYTES = 16 * 1024 * 1024
_INT_LIMIT = 1 << 63


class WireError(Exception):
    """A message that is not well-formed plain data (or too large / too deep)."""


class Unencodable(Exception):
    """A value that is not plain data; the caller decides whether that means a handle."""


_SEQUENCES = ((list, "l"), (tuple, "t"), (set, "s"), (frozenset, "fs"))
_BUILD = {"l": list, "t": tuple, "s": set, "fs": frozenset, "dq": collections.deque}
_DICTS = {"d": dict, "od": collections.OrderedDict, "ct": collections.Counter}
_VIEWS = {type({}.keys()): "dk", type({}.values()): "dv", type({}.items()): "di"}


def encode(value, to_handle=None, depth=0):
    """``value`` as JSON-able data; values that are not plain go through ``to_handle``
    (which returns a JSON-able tag) or raise :class:`Unencodable`."""
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -_INT_LIMIT < value < _INT_LIMIT else {"i": hex(value)}
    if kind is float:
        return value if math.isfinite(value) else {"f": repr(value)}
    tagged = _encode_container(value, to_handle, depth + 1)
    if tagged is not None:
        return tagged
    base = _plain_base(value)
    if base is not None:
        return encode(base, to_handle, depth)
    if to_handle is None:
        raise Unencodable(f"{kind.__name__} is not plain data")
    return to_handle(value)


def _encode_container(value, to_handle, depth):
    """The tagged form of a container or standard-library value type, else ``None``."""
    items = lambda values: [encode(item, to_handle, depth) for item in values]  # noqa: E731
    pairs = lambda mapping: [[encode(k, to_handle, depth), encode(v, to_handle, depth)] for k, v in mapping]  # noqa: E731
    kind = type(value)
    for sequence, tag in _SEQUENCES:
        if kind is sequence:
            return {tag: items(value)}
    for tag, mapping in _DICTS.items():
        if kind is mapping:
            return {tag: pairs(dict.items(value))}
    if kind in _VIEWS:
        tag = _VIEWS[kind]
        return {tag: pairs(value) if tag == "di" else items(value)}
    if kind is bytes or kind is bytearray:
        return {"b" if kind is bytes else "ba": base64.b64encode(value).decode("ascii")}
    if kind is collections.deque:
        return {"dq": items(value)}
    if isinstance(value, tuple) and _is_named_tuple(kind):
        return {"nt": [kind.__name__, list(kind._fields), items(tuple.__iter__(value))]}
    return _encode_number(value, kind, depth, to_handle)


def _encode_number(value, kind, depth, to_handle):
    if kind is decimal.Decimal:
        return {"dec": str(value)}
    if kind is fractions.Fraction:
        return {"fr": [encode(value.numerator, None, depth), encode(value.denominator, None, depth)]}
    if kind is complex:
        return {"c": [encode(value.real, None, depth), encode(value.imag, None, depth)]}
    if kind is range:
        return {
            "r": [
                encode(value.start, None, depth),
                encode(value.stop, None, depth),
                encode(value.step, None, depth),
            ]
        }
    if kind is slice:
        return {"sl": [encode(part, to_handle, depth) for part in (value.start, value.stop, value.step)]}
    return None


def _is_named_tuple(kind) -> bool:
    fields = getattr(kind, "_fields", None)
    return type(fields) is tuple and all(type(name) is str for name in fields)


def _plain_base(value):
    """A subclass of a plain type as its base value, read through the base type's own methods
    (an override in the subclass is never called); ``None`` when not such a subclass."""
    for base, read in (
        (int, int.__int__),
        (float, float.__float__),
        (str, str.__str__),
        (bytes, bytes.__bytes__),
        (list, lambda v: list(list.__iter__(v))),
        (tuple, lambda v: tuple(tuple.__iter__(v))),
        (collections.Counter, lambda v: collections.Counter(dict(dict.items(v)))),
        (collections.OrderedDict, lambda v: collections.OrderedDict(dict.items(v))),
        (dict, lambda v: dict(dict.items(v))),
        (set, lambda v: set(set.__iter__(v))),
        (frozenset, lambda v: frozenset(frozenset.__iter__(v))),
        (collections.deque, lambda v: collections.deque(collections.deque.__iter__(v))),
    ):
        if isinstance(value, base):
            return read(value)
    return None


def decode(data, handles=None, depth=0):
    """The inverse of :func:`encode`, building the receiver's own objects.

    ``handles`` turns handle tags into objects: ``handles.handle(n)`` for
    ``{"h": n}`` and ``handles.exception_class(n, name, base)`` for
    ``{"x": [n, name, base]}`` (an exception class of the sender).

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
        return _decode_tagged(tag, body, handles, depth + 1)
    except (TypeError, ValueError, ArithmeticError) as exc:  # unhashable keys, bad base64, bad numbers
        raise WireError(f"malformed {tag!r} value: {exc}") from None


def _decode_tagged(tag, body, handles, depth):
    decoded = lambda: [decode(item, handles, depth) for item in _list(body)]  # noqa: E731
    if tag in _BUILD:
        return _BUILD[tag](decoded())
    if tag in _DICTS:
        pairs = {decode(k, handles, depth): decode(v, handles, depth) for k, v in map(_pair, _list(body))}
        return pairs if tag == "d" else _DICTS[tag](pairs)
    if tag == "dk":
        return dict.fromkeys(decoded()).keys()
    if tag == "dv":
        return dict(enumerate(decoded())).values()
    if tag == "di":
        return _decode_tagged("d", body, handles, depth).items()
    if tag in ("b", "ba") and type(body) is str:
        raw = base64.b64decode(body, validate=True)
        return raw if tag == "b" else bytearray(raw)
    if tag == "h" and type(body) is int and handles is not None:
        return handles.handle(body)
    if tag == "x" and handles is not None:
        number, name, base = _list(body, 3)
        return handles.exception_class(number, name, base)
    if tag == "nt":
        name, fields, values = _list(body, 3)
        return _named_tuple_class(name, fields)(*(decode(item, handles, depth) for item in _list(values)))
    return _decode_number(tag, body, decoded)


def _decode_number(tag, body, decoded):
    if tag == "i" and type(body) is str:
        return int(body, 16)
    if tag == "f" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "dec" and type(body) is str:
        return decimal.Decimal(body)
    if tag == "fr":
        return fractions.Fraction(*_numbers(decoded(), 2, int))
    if tag == "c":
        return complex(*_numbers(decoded(), 2, (int, float)))
    if tag == "r":
        return range(*_numbers(decoded(), 3, int))
    if tag == "sl":
        return slice(*_list(decoded(), 3))
    raise WireError(f"unknown tag {tag!r}")


_named_tuple_classes: dict = {}


def _named_tuple_class(name, fields):
    """The receiver's own named tuple class for ``(name, fields)`` (the last 64 are kept)."""
    if type(name) is not str or type(fields) is not list or not all(type(f) is str for f in fields):
        raise TypeError("a named tuple needs a name and field names")
    key = (name, tuple(fields))
    if key not in _named_tuple_classes:
        if len(_named_tuple_classes) >= 64:
            _named_tuple_classes.clear()
        _named_tuple_classes[key] = collections.namedtuple(name, key[1])
    return _named_tuple_classes[key]


def _list(body, length=None):
    if type(body) is not list or (length is not None and len(body) != length):
        raise TypeError("a tag's body has the wrong shape")
    return body


def _numbers(values, length, kinds):
    if len(values) != length or not all(isinstance(v, kinds) and type(v) is not bool for v in values):
        raise TypeError("not numbers")
    return values


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
