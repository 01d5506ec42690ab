"""Runs inside the sandbox as the unprivileged user: solution, then tests.

Usage: ``python -I -S harness.py FD`` in a directory holding ``solution.py``
and ``tests.py``. Progress records go to file descriptor FD, one JSON object
per line: ``{"total": n}`` first, then ``{"passed": bool}`` per test, then
``{"done": true}``. Tests are either a unittest module (``unittest.TestCase``
subclasses) or top-level ``assert`` statements (each one is a test; other
statements are set-up). Only the standard library is imported here.
"""

import ast
import json
import os
import sys
import unittest

RESULTS = os.fdopen(int(sys.argv[1]), "w", buffering=1)


def record(**fields):
    RESULTS.write(json.dumps(fields) + "\n")


def run_asserts(tree, namespace):
    statements = tree.body
    record(total=sum(isinstance(s, ast.Assert) for s in statements))
    for statement in statements:
        code = compile(ast.Module(body=[statement], type_ignores=[]), "tests.py", "exec")
        try:
            exec(code, namespace)
            passed = True
        except Exception:
            passed = False
        if isinstance(statement, ast.Assert):
            record(passed=passed)


def run_unittest(tree, namespace):
    exec(compile(tree, "tests.py", "exec"), namespace)
    loader = unittest.TestLoader()
    cases = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, unittest.TestCase)]
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in cases)
    record(total=suite.countTestCases())

    class Recorder(unittest.TestResult):
        def addSuccess(self, test):
            record(passed=True)

        def addFailure(self, test, err):
            record(passed=False)

        def addError(self, test, err):
            record(passed=False)

        def addSkip(self, test, reason):
            record(passed=False)

    suite.run(Recorder())


def main():
    with open("tests.py") as handle:
        tests = ast.parse(handle.read(), "tests.py")
    namespace = {"__name__": "__main__"}
    try:
        with open("solution.py") as handle:
            source = handle.read()
        exec(compile(source, "solution.py", "exec"), namespace)
    except BaseException as exc:  # a broken solution still gets its tests counted (all failing)
        print(f"solution raised {type(exc).__name__}: {exc}", file=sys.stderr)
    uses_unittest = any(
        isinstance(node, ast.ClassDef) and any("TestCase" in ast.unparse(b) for b in node.bases)
        for node in tests.body
    )
    (run_unittest if uses_unittest else run_asserts)(tests, namespace)
    record(done=True)


main()
