"""The candidate's side: runs the response's code as the unprivileged candidate uid.

Standard library only (it runs inside the sandbox, forked from the zygote).
Nothing here decides a verdict: in call mode it only answers the judge's
requests over a socket with plain data (see :mod:`wire`), and in stdio mode
the session reads what the program printed. Whatever the code does to this
process (patching modules, forging output, exiting early, closing the
socket), the judge sees at most plain data, a typed exception or silence.

Call mode protocol, one JSON line each way:

* first the candidate sends ``{"ready": [[name, value], ...]}``: its
  module-level names (dunder names and modules excluded), values encoded;
* then for each request ``{"op", "target", "args", "kwargs"}`` it answers
  ``{"ok": value, "after": [...]}`` (``after``: the post-call state of each
  positional list/dict/set argument, for in-place mutation; ``None`` for the
  others), ``{"raise": [type_name, message]}`` or ``{"stop": true}``.
"""

import contextlib
import io
import os
import socket
import sys
import types

try:  # imported as part of the service package, or by the zygote from this folder
    from . import wire
except ImportError:  # pragma: no cover - the zygote's import path
    import wire

_MUTABLE = (list, dict, set)
_OPS = {
    "call": lambda target, args, kwargs: target(*args, **kwargs),
    "getattr": lambda target, args, kwargs: getattr(target, args[0]),
    "iter": lambda target, args, kwargs: iter(target),
    "next": lambda target, args, kwargs: next(target),
    "len": lambda target, args, kwargs: len(target),
    "getitem": lambda target, args, kwargs: target[args[0]],
    "contains": lambda target, args, kwargs: args[0] in target,
}


class Handles:
    """Objects the judge refers to by number."""

    def __init__(self):
        self.objects = []

    def tag(self, value):
        self.objects.append(value)
        return {"h": len(self.objects) - 1}

    def get(self, number):
        if not 0 <= number < len(self.objects):
            raise wire.WireError(f"no handle {number}")
        return self.objects[number]

    def encode(self, value):
        try:
            return wire.encode(value, self.tag)
        except wire.Unencodable:  # nested too deeply: the judge gets it whole, as a handle
            return self.tag(value)


def serve(fd: int, source: str) -> None:
    """Load ``source`` as a module, then answer the judge until it hangs up."""
    channel = socket.socket(fileno=fd)
    reader = channel.makefile("rb")
    handles = Handles()
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    # A broken solution still answers: its missing names fail the tests.
    with contextlib.suppress(BaseException):
        exec(compile(source, "solution.py", "exec"), namespace)
    names = [
        [name, handles.encode(value)]
        for name, value in namespace.items()
        if not name.startswith("__") and not isinstance(value, types.ModuleType)
    ]
    channel.sendall(wire.dumps({"ready": names}))
    while (request := wire.read_message(reader)) is not None:
        channel.sendall(wire.dumps(_answer(request, handles)))


def _answer(request, handles):
    decode = lambda data: wire.decode(data, handles.get)  # noqa: E731
    try:
        op = _OPS[request["op"]]
        target = handles.get(request["target"])
        args = [decode(arg) for arg in request.get("args", [])]
        kwargs = {key: decode(value) for key, value in request.get("kwargs", [])}
    except (KeyError, TypeError, ValueError, wire.WireError) as exc:
        return {"raise": ["TypeError", f"bad request: {exc}"]}
    try:
        result = op(target, args, kwargs)
    except StopIteration:
        return {"stop": True}
    except BaseException as exc:  # the candidate's own exception, by name only
        return {"raise": [type(exc).__name__, str(exc)[:500]]}
    after = [handles.encode(arg) if type(arg) in _MUTABLE else None for arg in args]
    return {"ok": handles.encode(result), "after": after}


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
