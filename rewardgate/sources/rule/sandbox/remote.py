"""The examiner's view of the candidate: one connection, and proxies that let candidate code decide nothing.

Standard library only (it runs in the examiner process). Every value the
candidate sends is decoded into the examiner's own objects (:mod:`wire`), so
comparisons, hashing, membership and sorting of those values are the examiner's
Python. What the candidate could not convert (functions, classes, instances
of its classes, iterators) is a :class:`Remote`: its calls, attributes and
items cross the socket and come back as plain data, but no question that
carries a value of the tests is ever put to the candidate:

* ``==``, ``!=`` and ``hash``: identity (one proxy per candidate object);
  ``<`` and the other orderings: ``TypeError``;
* ``x in proxy``: the examiner reads the object's items as a plain list and
  looks for ``x`` itself;
* ``len``, truth and ``str``/``repr``: plain answers checked for type (an
  ``int`` of at least 0, a ``bool``, a ``str``); they carry nothing of the
  tests, so they are worth no more than returning that value directly;
* iteration ends only when the candidate's iterator says so in answer to a
  ``next``: a ``StopIteration`` from any other request (a call in
  ``all(map(f, xs))``) is a ``RuntimeError``, as PEP 479 makes it in a
  generator;
* the candidate's exceptions are rebuilt as examiner classes with the same
  name and nearest builtin base (``class Invalid(ValueError)`` is caught by
  ``except ValueError``); ``SystemExit`` stays one, and the other exceptions
  that are not an ``Exception`` (``KeyboardInterrupt``, ``GeneratorExit``)
  derive from :class:`SolutionExit`: ``except Exception`` catches none of them.
"""

import builtins
import socket
import time

try:
    from . import wire
except ImportError:  # pragma: no cover - the zygote's import path
    import wire


class CandidateGone(BaseException):
    """The candidate process exited, closed its socket or spoke nonsense.

    A BaseException so that tests catching ``Exception`` (``assertRaises(Exception)``)
    cannot pass because the candidate vanished."""


class CandidateTimeout(BaseException):
    """The item's time budget ran out while waiting for the candidate."""


class SolutionExit(BaseException):
    """Base of the solution's ``KeyboardInterrupt``, ``GeneratorExit`` and other non-``Exception`` classes."""


_STOPS = (StopIteration, StopAsyncIteration)
_MAX_NAME = 100


class Connection:
    """Request/response over the candidate socket, bounded by one deadline.

    Also the handle table for :func:`wire.decode`: one :class:`Remote` per
    candidate object and one examiner exception class per candidate class."""

    def __init__(self, fd: int, deadline: float) -> None:
        self.sock = socket.socket(fileno=fd)
        self.reader = self.sock.makefile("rb")
        self.deadline = deadline
        self.timed_out = False
        self.gone = False
        self.remotes: dict[int, Remote] = {}
        self.exception_classes: dict[int, type] = {}

    def receive(self) -> dict:
        remaining = self.deadline - time.monotonic()
        if self.timed_out or remaining <= 0:
            self.timed_out = True
            raise CandidateTimeout("time budget exhausted")
        if self.gone:
            raise CandidateGone("the candidate is gone")
        self.sock.settimeout(remaining)
        try:
            message = wire.read_message(self.reader)
        except TimeoutError:
            self.timed_out = True
            raise CandidateTimeout("time budget exhausted") from None
        except (OSError, wire.WireError):
            message = None
        if not isinstance(message, dict):
            self.gone = True
            raise CandidateGone("the candidate stopped answering")
        return message

    def request(self, op: str, target: int, args=(), kwargs=None):
        """The value of ``op`` on candidate object ``target``; raises what the candidate raised."""
        encoded = [wire.encode(arg, _handle_of) for arg in args]
        encoded_kwargs = [[key, wire.encode(value, _handle_of)] for key, value in (kwargs or {}).items()]
        try:
            message = {"op": op, "target": target, "args": encoded, "kwargs": encoded_kwargs}
            self.sock.sendall(wire.dumps(message))
        except OSError:
            self.gone = True
            raise CandidateGone("the candidate closed its socket") from None
        reply = self.receive()
        try:
            if "raise" in reply:
                exception = self._exception(op, reply["raise"])
            else:
                return self._value(reply, args)
        except (KeyError, TypeError, ValueError, wire.WireError):
            self.gone = True
            raise CandidateGone("the candidate sent malformed data") from None
        raise exception

    def _value(self, reply: dict, args):
        value = self.decode(reply["ok"])
        for arg, state in zip(args, reply.get("after") or [], strict=False):
            if state is not None and type(arg) in (list, dict, set):
                _replace_contents(arg, self.decode(state))
        return value

    def decode(self, data):
        return wire.decode(data, self)

    def handle(self, number: int) -> "Remote":
        if number not in self.remotes:
            self.remotes[number] = Remote(self, number)
        return self.remotes[number]

    def exception_class(self, number, name, base) -> type:
        if type(number) is not int or type(name) is not str or type(base) is not str:
            raise wire.WireError("malformed exception class")
        if number not in self.exception_classes:
            self.exception_classes[number] = _examiner_exception_class(name, base)
        return self.exception_classes[number]

    def _exception(self, op: str, raised) -> BaseException:
        if type(raised) is not list or len(raised) != 2:
            raise wire.WireError("malformed exception")
        cls, args = self.decode(raised[0]), self.decode({"l": raised[1]})
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise wire.WireError("not an exception class")
        if op != "next" and issubclass(cls, _STOPS):
            return RuntimeError(f"the solution raised {cls.__name__} outside iteration")
        return _instantiate(cls, args)


def _examiner_exception_class(name: str, base_name: str) -> type:
    """The examiner's class for the candidate's exception class ``name`` (nearest builtin base
    ``base_name``)."""
    base = getattr(builtins, base_name, None)
    if not (isinstance(base, type) and issubclass(base, BaseException)):
        base = Exception
    if not issubclass(base, Exception | SystemExit):
        base = SolutionExit  # KeyboardInterrupt would stop the test runner, GeneratorExit a generator
    if not name.isidentifier() or len(name) > _MAX_NAME:
        name = "SolutionError"
    if name == base.__name__:
        return base
    return type(name, (base,), {"__module__": "solution"})


def _instantiate(cls: type, args: list) -> BaseException:
    """``cls(*args)``, else the nearest base that takes them (``UnicodeDecodeError`` wants five)."""
    for ancestor in cls.__mro__:
        if issubclass(ancestor, BaseException):
            try:
                return ancestor(*args)
            except Exception:
                continue
    return Exception(*args)


def _handle_of(value):
    if isinstance(value, Remote):
        return {"h": object.__getattribute__(value, "_number")}
    raise TypeError(f"only plain data can be passed to the solution, not {type(value).__name__}")


def _replace_contents(target, state) -> None:
    if type(state) is not type(target) or state == target:
        return
    if isinstance(target, list):
        target[:] = state
    else:
        target.clear()
        target.update(state)


def _checked(value, kind: type, what: str):
    if type(value) is not kind or (kind is int and value < 0):
        raise TypeError(f"the solution's {what} is not a valid {kind.__name__}")
    return value


class Remote:
    """An object living in the candidate process; see the module docstring for what it answers."""

    __slots__ = ("_connection", "_number")

    def __init__(self, connection: Connection, number: int) -> None:
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_number", number)

    def _ask(self, op: str, *args, **kwargs):
        return self._connection.request(op, self._number, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self._ask("call", *args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__") or name in Remote.__slots__:
            raise AttributeError(name)
        return self._ask("getattr", name)

    def __setattr__(self, name, value):
        self._ask("setattr", name, value)

    def __getitem__(self, key):
        return self._ask("getitem", key)

    def __setitem__(self, key, value):
        self._ask("setitem", key, value)

    def __iter__(self):
        iterator = self._ask("iter")
        if not isinstance(iterator, Remote):
            raise TypeError("the solution's __iter__ did not return an iterator")
        return iterator

    def __next__(self):
        return self._ask("next")

    def __len__(self):
        return _checked(self._ask("len"), int, "length")

    def __bool__(self):
        return _checked(self._ask("bool"), bool, "truth value")

    def __contains__(self, item):
        return item in _checked(self._ask("items"), list, "items")

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __hash__(self):
        return id(self)

    def __str__(self):
        return _checked(self._ask("str"), str, "str()")

    def __repr__(self):
        try:
            return _checked(self._ask("repr"), str, "repr()")
        except Exception:  # a failure message must not fail on its own repr
            return f"<solution object #{self._number}>"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self
