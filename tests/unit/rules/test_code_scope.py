"""What each name the tests read resolves to: the tests' own, builtins, modules, then the solution's."""

import builtins
import math
import sys

import pytest

from rewardgate.sources.rule.sandbox import reference, scope
from rewardgate.sources.rule.sandbox.remote import Remote


def namespace(tests: str, values: dict, modules: dict | None = None) -> dict:
    return scope.tests_namespace(reference.read(tests), values, modules or {})


def resolve(namespace: dict, name: str):
    """What the tests' code sees for ``name``: its globals, then builtins."""
    return namespace[name] if name in namespace else getattr(builtins, name)


SHADOWS = ["abs", "sorted", "set", "len", "isinstance", "print", "range", "all", "map", "AssertionError"]


@pytest.mark.parametrize("name", SHADOWS)
def test_builtins_cannot_be_shadowed_by_the_solution(name):
    rigged = object()
    ns = namespace(f"assert {name}\nassert f(1)\n", {name: rigged, "f": "the solution's f"})
    assert resolve(ns, name) is getattr(builtins, name)
    assert ns["f"] == "the solution's f"


def test_names_the_tests_bind_are_never_the_solutions():
    tests = "def check(candidate):\n    assert candidate(1)\nexpected = 2\ncheck(f)\n"
    ns = namespace(tests, {"check": "rigged", "expected": "rigged", "candidate": "kept", "f": "f"})
    assert "check" not in ns and "expected" not in ns  # bound by the tests as they run
    assert ns["f"] == "f" and ns["candidate"] == "kept"


def test_a_module_the_tests_use_is_the_examiners_own_import_not_the_solutions_class():
    ns = namespace("assert math.isclose(f(2), 1.5)\n", {"math": "class math with a rigged isclose", "f": 1})
    assert ns["math"] is math


def test_a_module_the_solution_imported_is_visible_as_plain_python_makes_it():
    tests = "assert it.islice(f(), 2)\nassert pp.join('a')\n"
    ns = namespace(tests, {}, {"it": "itertools", "pp": "posixpath"})
    assert ns["it"] is sys.modules["itertools"] and ns["pp"].__name__ == "posixpath"


@pytest.mark.parametrize(
    ("name", "claim"),
    [
        ("math", "cmath"),  # a module's own name may only be bound to that module
        ("m", "antigravity"),  # never imported for the tests
        ("m", "numpy"),  # not in the standard library
        ("m", "os.path; import os"),  # not a module name
        ("m", 3),
    ],
)
def test_module_claims_that_are_not_plain_imports_of_the_standard_library_are_refused(name, claim):
    ns = namespace(f"assert {name}.isclose(1, 1)\n", {}, {name: claim})
    if name == "math":
        assert ns["math"] is math  # the tests' math, whatever the claim
    else:
        assert name not in ns


def test_a_solution_function_named_like_a_module_is_kept_when_the_tests_call_it():
    ns = namespace("assert tokenize('a b') == ['a', 'b']\n", {"tokenize": "the solution's tokenize"})
    assert ns["tokenize"] == "the solution's tokenize"


def test_a_name_used_as_a_module_and_spelled_like_one_is_never_a_solution_object():
    tests = "assert np.isclose(f(1), 2)\nassert Calculator.add(1, 2) == 3\nassert data.get('k') == 1\n"
    fake_numpy, calculator = Remote(None, 0), Remote(None, 1)
    ns = namespace(tests, {"np": fake_numpy, "Calculator": calculator, "data": {"k": 1}, "f": "f"})
    assert "np" not in ns  # numpy is not in the sandbox, and a solution's stand-in is not numpy
    assert ns["Calculator"] is calculator  # a class of the solution's, used as a namespace
    assert ns["data"] == {"k": 1}  # plain data: its methods are the examiner's own


def test_dunder_and_non_identifier_names_are_dropped():
    ns = namespace("assert f\n", {"__builtins__": {}, "__name__": "x", "not a name": 1, "f": 1})
    assert ns["__builtins__"] is builtins and ns["__name__"] == "__main__" and "not a name" not in ns


def test_from_solution_import_finds_the_solutions_names(monkeypatch):
    for name in reference.SOLUTION_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    tests = "from solution import add\nimport submission\nassert add(1, 2) == 3\n"
    values = {"add": "the solution's add", "abs": "rigged", "_private": 1}
    scope.install_solution_module(reference.read(tests), values, {"m": "math"})
    ns = namespace(tests, values, {"m": "math"})
    assert sys.modules["solution"] is sys.modules["submission"]
    module = sys.modules["solution"]
    assert module.add == "the solution's add" and module.m is math
    assert module.__all__ == ["add"]  # ``import *`` neither shadows builtins nor takes private names
    assert "main" not in sys.modules or sys.modules["main"] is not module
    assert "add" not in ns  # bound by the import, as the tests run
