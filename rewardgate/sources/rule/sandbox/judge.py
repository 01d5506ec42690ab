"""The judge's side: runs the reference's tests where the candidate cannot reach.

Standard library only (it runs inside the sandbox as the judge uid, not
dumpable, so the candidate uid can neither signal, trace nor read it). The
candidate's module-level names are bound in the tests' namespace as plain
data or as :class:`Remote` proxies; every call crosses to the candidate
process and only plain data comes back, so an object with a rigged
``__eq__``, a patched module or a forged record in the candidate changes
nothing here. A :class:`Remote` compares equal only to itself.

Records go to the results stream, one JSON line each: ``{"total": n}``, then
per test ``{"passed": bool}`` (tests mode) or ``{"value": v}`` /
``{"raised": type}`` (calls mode, compared by the host), then
``{"timeout": true}`` if the budget ran out, ``{"gone": true}`` if the
candidate stopped answering, then ``{"done": true}``.
"""

import ast
import builtins
import socket
import time
import unittest

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


class CandidateError(Exception):
    """An exception raised by the candidate that has no builtin counterpart."""


class Connection:
    """Request/response over the candidate socket, bounded by one deadline."""

    def __init__(self, fd: int, deadline: float) -> None:
        self.sock = socket.socket(fileno=fd)
        self.reader = self.sock.makefile("rb")
        self.deadline = deadline
        self.timed_out = False
        self.gone = False

    def receive(self):
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
            return self._unpack(reply, args)
        except wire.WireError:
            self.gone = True
            raise CandidateGone("the candidate sent malformed data") from None

    def _unpack(self, reply, args):
        if "raise" in reply:
            name, message = reply["raise"]
            raise _exception(str(name), str(message))
        if reply.get("stop") is True:
            raise StopIteration
        value = self.decode(reply["ok"])
        for arg, state in zip(args, reply.get("after") or [], strict=False):
            if state is not None and type(arg) in (list, dict, set):
                _replace_contents(arg, self.decode(state))
        return value

    def decode(self, data):
        return wire.decode(data, lambda number: Remote(self, number))


def _handle_of(value):
    if isinstance(value, Remote):
        return {"h": value._number}
    raise TypeError(f"only plain data can be passed to the solution, not {type(value).__name__}")


def _replace_contents(target, state) -> None:
    if type(state) is not type(target) or state == target:
        return
    if isinstance(target, list):
        target[:] = state
    else:
        target.clear()
        target.update(state)


def _exception(name: str, message: str) -> BaseException:
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:  # builtins such as UnicodeDecodeError take other arguments
            pass
    return CandidateError(f"{name}: {message}")


class Remote:
    """An object living in the candidate process; equal only to itself."""

    __slots__ = ("_connection", "_number")

    def __init__(self, connection: Connection, number: int) -> None:
        self._connection = connection
        self._number = number

    def __call__(self, *args, **kwargs):
        return self._connection.request("call", self._number, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._connection.request("getattr", self._number, (name,))

    def __iter__(self):
        return self._connection.request("iter", self._number)

    def __next__(self):
        return self._connection.request("next", self._number)

    def __len__(self):
        return self._connection.request("len", self._number)

    def __getitem__(self, key):
        return self._connection.request("getitem", self._number, (key,))

    def __contains__(self, item):
        return self._connection.request("contains", self._number, (item,))

    def __repr__(self):
        return f"<solution object #{self._number}>"


class Judge:
    """Runs one payload against the candidate and writes the records."""

    def __init__(self, connection: Connection, results) -> None:
        self.connection = connection
        self.results = results

    def in_time(self) -> bool:
        """Nothing passes once the budget is spent, even a test that never reached the candidate."""
        return not self.connection.timed_out and time.monotonic() < self.connection.deadline

    def record(self, **fields) -> None:
        self.results.write(wire.dumps(fields))
        self.results.flush()

    def candidate_names(self) -> dict:
        try:
            ready = self.connection.receive().get("ready", [])
            return {str(name): self.connection.decode(value) for name, value in ready}
        except (CandidateGone, CandidateTimeout, ValueError, TypeError, wire.WireError):
            return {}

    def run(self, payload: dict) -> None:
        names = self.candidate_names()
        if payload["kind"] == "calls":
            self.run_calls(names, payload["fn_name"], payload["inputs"])
        else:
            self.run_tests(names, payload["tests"])
        if self.connection.timed_out:
            self.record(timeout=True)
        if self.connection.gone:
            self.record(gone=True)  # the session checks how the candidate ended
        self.record(done=True)

    def run_calls(self, names: dict, fn_name: str, inputs: list) -> None:
        """APPS call-based cases: ``fn_name(*case)``; the host compares the values."""
        self.record(total=len(inputs))
        for case in inputs:
            try:
                function = _resolve(names, fn_name)
                value = function(*wire.decode(case))
                self.record(value=wire.encode(value, _reject_handle))
            except BaseException as exc:
                self.record(raised=type(exc).__name__)

    def run_tests(self, names: dict, source: str) -> None:
        tree = ast.parse(source, "tests.py")
        namespace = {**names, "__name__": "__main__", "__builtins__": builtins}
        if any(_is_test_case(node) for node in tree.body):
            self._run_unittest(tree, namespace)
        else:
            self._run_statements(tree, namespace)

    def _run_statements(self, tree, namespace) -> None:
        asserts = [s for s in tree.body if isinstance(s, ast.Assert)]
        # HumanEval style: no top-level assert, the tests are calls such as ``check(add)``.
        tests = asserts or [s for s in tree.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
        self.record(total=len(tests))
        for statement in tree.body:
            code = compile(ast.Module(body=[statement], type_ignores=[]), "tests.py", "exec")
            try:
                exec(code, namespace)
                passed = self.in_time()
            except BaseException:
                passed = False
            if statement in tests:
                self.record(passed=passed)

    def _run_unittest(self, tree, namespace) -> None:
        exec(compile(tree, "tests.py", "exec"), namespace)
        cases = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, unittest.TestCase)]
        suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in cases)
        self.record(total=suite.countTestCases())
        judge = self

        class Recorder(unittest.TestResult):
            def addSuccess(self, test):
                judge.record(passed=judge.in_time())

            def addFailure(self, test, err):
                judge.record(passed=False)

            def addError(self, test, err):
                judge.record(passed=False)

            def addSkip(self, test, reason):
                judge.record(passed=False)

            def addExpectedFailure(self, test, err):
                judge.record(passed=False)

            def addUnexpectedSuccess(self, test):
                judge.record(passed=False)

        suite.run(Recorder())


def _is_test_case(node) -> bool:
    return isinstance(node, ast.ClassDef) and any("TestCase" in ast.unparse(base) for base in node.bases)


def _resolve(names: dict, fn_name: str):
    """A top-level function, else a method of ``Solution()`` (LeetCode style)."""
    if fn_name in names:
        return names[fn_name]
    if "Solution" in names:
        return getattr(names["Solution"](), fn_name)
    raise NameError(fn_name)


def _reject_handle(value):
    raise TypeError("not plain data")


def main(candidate_fd: int, results_fd: int, payload: dict, budget_s: float) -> None:
    with open(results_fd, "wb", buffering=0) as results:
        connection = Connection(candidate_fd, time.monotonic() + budget_s)
        Judge(connection, results).run(payload)
