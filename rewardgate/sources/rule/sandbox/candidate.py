"""The candidate's side: runs the response's code as the unprivileged candidate uid.

Standard library only (it runs inside the sandbox, forked from the zygote).
Nothing here decides a verdict: in call mode it only answers the examiner's
requests over a socket with plain data (see :mod:`wire`), and in stdio mode
the session reads what the program printed. Whatever the code does to this
process (patching modules, forging output, exiting early, closing the
socket), the examiner sees at most plain data, a typed exception or silence.

Call mode protocol, one JSON line each way:

* first the candidate sends ``{"ready": [[name, value], ...], "modules":
  [[name, module_name], ...]}``: its module-level names (dunder names
  excluded), values encoded, and the names bound to modules;
* then for each request ``{"op", "target", "args", "kwargs"}`` (``op`` one of
  :data:`OPS`) it answers ``{"ok": value, "after": [...]}`` (``after``: the
  post-call state of each positional list/dict/set argument, for in-place
  mutation; ``None`` for the others) or ``{"raise": [class, args]}`` (the
  exception's class as an ``x`` tag, its ``args`` encoded).

Every value is converted to plain data here (see :mod:`wire`); what cannot
be (functions, classes, instances of the solution's classes, iterators)
stays here and crosses as a numbered handle, one number per object.
"""

import builtins
import contextlib
import io
import itertools
import operator
import os
import socket
import sys
import types

try:  # imported as part of the service package, or by the zygote from this folder
    from . import wire
except ImportError:  # pragma: no cover - the zygote's import path
    import wire

#: Most items an ``in`` test may read from one of the solution's objects.
MAX_ITEMS = 1_000_000
_MUTABLE = (list, dict, set)


def _items(target):
    items = list(itertools.islice(iter(target), MAX_ITEMS + 1))
    if len(items) > MAX_ITEMS:
        raise OverflowError(f"more than {MAX_ITEMS} items")
    return items


OPS = {
    "call": lambda target, args, kwargs: target(*args, **kwargs),
    "getattr": lambda target, args, kwargs: getattr(target, *args),
    "setattr": lambda target, args, kwargs: setattr(target, *args),
    "getitem": lambda target, args, kwargs: operator.getitem(target, *args),
    "setitem": lambda target, args, kwargs: operator.setitem(target, *args),
    "iter": lambda target, args, kwargs: iter(target),
    "next": lambda target, args, kwargs: next(target),
    "len": lambda target, args, kwargs: len(target),
    "bool": lambda target, args, kwargs: bool(target),
    "str": lambda target, args, kwargs: str(target),
    "repr": lambda target, args, kwargs: repr(target),
    "items": lambda target, args, kwargs: _items(target),
}


class Handles:
    """Objects the examiner refers to by number: one number per object, kept alive here."""

    def __init__(self):
        self.objects = []
        self.numbers = {}

    def tag(self, value):
        number = self.numbers.get(id(value))
        if number is None:
            number = self.numbers[id(value)] = len(self.objects)
            self.objects.append(value)
        if isinstance(value, type) and issubclass(value, BaseException):
            return {"x": [number, value.__name__, builtin_base(value)]}
        return {"h": number}

    def handle(self, number):
        if not 0 <= number < len(self.objects):
            raise wire.WireError(f"no handle {number}")
        return self.objects[number]

    def exception_class(self, number, name, base):
        return self.handle(number)

    def encode(self, value):
        try:
            return wire.encode(value, self.tag)
        except wire.Unencodable:  # nested too deeply: the examiner gets it whole, as a handle
            return self.tag(value)


def builtin_base(cls) -> str:
    """The name of the nearest builtin exception class ``cls`` derives from."""
    for ancestor in cls.__mro__:
        if getattr(builtins, ancestor.__name__, None) is ancestor:
            return ancestor.__name__
    return "Exception"


def serve(fd: int, source: str) -> None:
    """Load ``source`` as a module, then answer the examiner until it hangs up."""
    channel = socket.socket(fileno=fd)
    reader = channel.makefile("rb")
    handles = Handles()
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    # A broken solution still answers: its missing names fail the tests.
    with contextlib.suppress(BaseException):
        exec(compile(source, "solution.py", "exec"), namespace)
    channel.sendall(wire.dumps(ready_message(namespace, handles)))
    while (request := wire.read_message(reader)) is not None:
        channel.sendall(_reply_line(_answer(request, handles), handles))


def ready_message(namespace: dict, handles: Handles) -> dict:
    names, modules = [], []
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            modules.append([name, str(value.__name__)])
        else:
            names.append([name, handles.encode(value)])
    return {"ready": names, "modules": modules}


def _answer(request, handles):
    decode = lambda data: wire.decode(data, handles)  # noqa: E731
    try:
        op = OPS[request["op"]]
        target = handles.handle(request["target"])
        args = [decode(arg) for arg in request.get("args", [])]
        kwargs = {key: decode(value) for key, value in request.get("kwargs", [])}
    except (KeyError, TypeError, ValueError, wire.WireError) as exc:
        return _raised(TypeError(f"bad request: {exc}"), handles)
    try:
        result = op(target, args, kwargs)
        after = [handles.encode(arg) if type(arg) in _MUTABLE else None for arg in args]
        return {"ok": handles.encode(result), "after": after}
    except BaseException as exc:  # the solution's own exception: its class and arguments
        return _raised(exc, handles)


def _raised(exc: BaseException, handles: Handles) -> dict:
    try:
        arguments = [handles.encode(arg) for arg in exc.args]
    except BaseException:
        arguments = []
    return {"raise": [handles.tag(type(exc)), arguments]}


def _reply_line(reply: dict, handles: Handles) -> bytes:
    """The reply as one line; a value too large to cross is an ``OverflowError`` for that request."""
    try:
        line = wire.dumps(reply)
        if len(line) <= wire.MAX_LINE_BYTES:
            return line
        problem = OverflowError("the value is too large to cross the sandbox boundary")
    except BaseException as exc:  # e.g. MemoryError while writing a huge value
        problem = exc
    return wire.dumps({"raise": [handles.tag(type(problem)), ["the reply could not be sent"]]})


def run_program(source: str) -> None:
    """Stdio mode: run ``source`` as ``__main__`` on fds 0/1, then exit the process."""
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=False)
    code = 0
    try:
        exec(compile(source, "solution.py", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        code = 1
    try:
        sys.stdout.flush()
    except BaseException:
        code = code or 1
    os._exit(code)
