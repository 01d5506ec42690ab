"""The examiner's side: runs the reference's tests where the candidate cannot reach.

Standard library only (it runs inside the sandbox as the examiner uid, not
dumpable, so the candidate uid can neither signal, trace nor read it). The
examiner owns every comparison: the candidate's values arrive as the examiner's
own plain objects and its other objects as :class:`remote.Remote` proxies
that decide nothing (see :mod:`remote`); the tests' names resolve to the
tests' own, builtins and the examiner's modules before the candidate's (see
:mod:`scope`); which statements are tests, and how many, is read from the
reference before the candidate answers (see :mod:`reference`).

Records go to the results stream, one JSON line each: ``{"total": n}`` first
(before anything of the candidate is read), then per test ``{"passed": bool}``
(tests mode) or ``{"value": v}`` / ``{"raised": type}`` (calls mode, compared
by the host), then ``{"timeout": true}`` if the budget ran out, ``{"gone":
true}`` if the candidate stopped answering, then ``{"done": true}``.
"""

import sys
import time
import types
import unittest

try:
    from . import reference as references
    from . import scope, wire
    from .remote import Connection
except ImportError:  # pragma: no cover - the zygote's import path
    import reference as references
    import scope
    import wire
    from remote import Connection


class Examiner:
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

    def candidate_names(self) -> tuple[dict, dict]:
        """(name -> value, name -> module name) as the candidate announced them; empty if it did not."""
        try:
            ready = self.connection.receive()
            values = {name: self.connection.decode(value) for name, value in ready.get("ready", [])}
            modules = dict(ready.get("modules", []))
            return values, modules
        except BaseException:  # a candidate that cannot announce its names fails the tests that use them
            return {}, {}

    def run(self, payload: dict) -> None:
        if payload["kind"] == "calls":
            self.run_calls(payload["fn_name"], payload["inputs"])
        else:
            self.run_tests(references.read(payload["tests"], payload.get("reference")))
        if self.connection.timed_out:
            self.record(timeout=True)
        if self.connection.gone:
            self.record(gone=True)  # the session checks how the candidate ended
        self.record(done=True)

    def run_calls(self, fn_name: str, inputs: list) -> None:
        """APPS call-based cases: ``fn_name(*case)``; the host compares the values."""
        self.record(total=len(inputs))
        values, _ = self.candidate_names()
        for case in inputs:
            try:
                function = _resolve(values, fn_name)
                value = function(*wire.decode(case))
                self.record(value=wire.encode(value, _reject_handle))
            except BaseException as exc:
                self.record(raised=type(exc).__name__)

    def run_tests(self, reference: references.TestReference) -> None:
        self.record(total=reference.total)
        # The tests are this process's __main__, as under ``python tests.py`` (unittest looks its
        # module fixtures, setUpModule, up there).
        values, modules = self.candidate_names()
        scope.install_solution_module(reference, values, modules)
        main_module = types.ModuleType("__main__")
        main_module.__dict__.update(scope.tests_namespace(reference, values, modules))
        sys.modules["__main__"] = main_module
        namespace = main_module.__dict__
        for index, statement in enumerate(reference.body):
            passed = self.execute(statement, namespace)
            if index in reference.tests:
                self.record(passed=passed)
        if reference.style == "unittest":
            self.run_test_cases(namespace)

    def execute(self, statement, namespace: dict) -> bool:
        """Run one top-level statement; whether it finished without an exception and in time."""
        try:
            code = compile(references.module_of(statement), "tests.py", "exec")
            exec(code, namespace)
            return self.in_time()
        except BaseException:
            return False

    def run_test_cases(self, namespace: dict) -> None:
        classes = dict.fromkeys(
            value
            for value in namespace.values()
            if isinstance(value, type) and issubclass(value, unittest.TestCase)
        )
        loader = unittest.defaultTestLoader
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(cls) for cls in classes)
        suite.run(_Recorder(self))


class _Recorder(unittest.TestResult):
    """One ``passed`` record per finished test: only a success inside the budget passes."""

    def __init__(self, examiner: Examiner) -> None:
        super().__init__()
        self.examiner = examiner

    def addSuccess(self, test):
        self.examiner.record(passed=self.examiner.in_time())

    def addFailure(self, test, err):
        self.examiner.record(passed=False)

    def addError(self, test, err):
        self.examiner.record(passed=False)

    def addSkip(self, test, reason):
        self.examiner.record(passed=False)

    def addExpectedFailure(self, test, err):
        self.examiner.record(passed=False)

    def addUnexpectedSuccess(self, test):
        self.examiner.record(passed=False)


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
        Examiner(connection, results).run(payload)
