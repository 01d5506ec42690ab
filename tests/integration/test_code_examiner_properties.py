"""Property-based red team of the code examiner, through the real sandbox.

Hypothesis writes wrong solutions (their plain answers score 0.0 on the
batteries below) that also rig what they return, with random dunder
overrides on random bases, or shadow names the tests use, redefining random
builtins and standard-library modules. A rigged dunder answers with a
constant that never involves 7, which every test's right answer does, so
only a comparison decided by the rigged object could pass; a shadowed
builtin answers with right answers of the batteries (7, '7', the list), so
only a test that called it could pass. A examiner that owns every comparison
gives each of them 0.0: the rigging never raises the reward of a wrong
solution.

Examples are few (each is a sandbox run); the batteries put many comparison
styles in one reference so each run tries them all.
"""

import builtins

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule

pytestmark = pytest.mark.slow

# f(x) should be 7; g(x) the list [7, ..., 13]; h(x) whether x > 0.
ASSERTS = """\
import math
assert f(1) == 7
assert 7 == f(1)
assert not (f(1) != 7) and f(1) == 7
assert f(1) in (7,) or f(1) in {7}
assert abs(f(1) - 7) < 1e-9
assert math.isclose(f(1), 7)
assert round(f(1)) == 7 and int(f(1)) == 7
assert float(f(1)) == 7.0
assert str(f(1)) == '7' and repr(f(1)) == '7' and f'{f(1)}' == '7'
assert 6 < f(1) < 8
assert isinstance(f(1), int) and f(1) == 7
assert [f(1)] == [7] and {'k': f(1)} == {'k': 7}
assert sorted([f(1), 8]) == [7, 8]
assert f(1) + 0 == 7
assert 7 in g(1) and 13 in g(1)
assert sorted(g(1)) == list(range(7, 14))
assert list(g(1)) == list(range(7, 14))
assert len(g(1)) == 7
assert set(g(1)) == set(range(7, 14))
assert g(1)[0] == 7
assert sum(g(1)) == 70
assert all(map(h, [1, 2, 3])) and not any(map(h, [-1, -2]))
assert [h(1), h(-1)] == [True, False]
"""
UNITTEST = """\
import unittest
class Battery(unittest.TestCase):
    def test_equal(self):
        self.assertEqual(f(1), 7)
    def test_almost_equal(self):
        self.assertAlmostEqual(f(1), 7.0)
    def test_in(self):
        self.assertIn(7, g(1))
        self.assertEqual(len(g(1)), 7)
    def test_count_equal(self):
        self.assertCountEqual(g(1), range(7, 14))
    def test_list_equal(self):
        self.assertListEqual(list(g(1)), list(range(7, 14)))
    def test_true_false(self):
        self.assertTrue(h(1))
        self.assertFalse(h(-1))
    def test_instance(self):
        self.assertIsInstance(f(1), int)
        self.assertEqual(f(1), 7)
    def test_greater(self):
        self.assertGreater(f(1), 6)
        self.assertLess(f(1), 8)
if __name__ == '__main__':
    unittest.main()
"""
HUMANEVAL = """\
import random
def check(candidate):
    assert candidate(1) == 7
    assert abs(candidate(1) - 7) < 1e-6
def check_list(candidate):
    assert candidate(1) == list(range(7, 14))
    assert 7 in candidate(1) and len(candidate(1)) == 7
random.seed(0)
check(f)
check_list(g)
"""
BATTERIES = {"asserts": ASSERTS, "unittest": UNITTEST, "humaneval": HUMANEVAL}
WRONG = "def f(x):\n    return 0\ndef g(x):\n    return []\ndef h(x):\n    return x < 0\n"


def score(solution: str, battery: str, timeout_s: float = 3) -> float:
    """A short budget: a rigged iterator that never ends (plain Python would loop too) fails at it."""
    item = ScoringItem("", solution, BATTERIES[battery])
    return build_rule("code_tests", {"timeout_s": timeout_s}).grade(item)


@pytest.mark.parametrize("battery", list(BATTERIES))
def test_the_batteries_pass_a_correct_solution_and_fail_the_plain_wrong_one(battery):
    correct = "def f(x):\n    return 7\ndef g(x):\n    return list(range(7, 14))\n"
    correct += "def h(x):\n    return x > 0\n"
    assert score(correct, battery, timeout_s=20) == 1.0
    assert score(WRONG, battery, timeout_s=20) == 0.0


# ------------------------------------------------------------------ rigged objects

BODIES = [
    "return True",
    "return False",
    "return 0",
    "return 1",
    "return -1",
    "return ''",
    "return 'x'",
    "return []",
    "return [0]",
    "return self",
    "return NotImplemented",
    "return None",
    "return iter([0])",
    "raise StopIteration",
    "raise AssertionError",
    "raise SystemExit(0)",
    "raise KeyboardInterrupt",
    "raise GeneratorExit",
]
BINARY = ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__contains__", "__getitem__"]
UNARY = [
    "__bool__",
    "__len__",
    "__iter__",
    "__next__",
    "__hash__",
    "__str__",
    "__repr__",
    "__abs__",
    "__neg__",
]
DUNDERS = {
    **dict.fromkeys([*BINARY, "__sub__", "__rsub__", "__add__", "__radd__"], "self, other"),
    **dict.fromkeys([*UNARY, "__int__", "__float__", "__index__"], "self"),
    "__round__": "self, *digits",
    "__format__": "self, spec",
    "__getattr__": "self, name",
}
BASES = {
    "object": "",
    "int": "0",
    "float": "0.5",
    "str": "'no'",
    "list": "[0]",
    "tuple": "(0,)",
    "dict": "{'k': 0}",
    "set": "{0}",
    "Exception": "'no'",
}

rigged_classes = st.builds(
    lambda base, methods: (base, methods),
    st.sampled_from(sorted(BASES)),
    st.dictionaries(st.sampled_from(sorted(DUNDERS)), st.sampled_from(BODIES), min_size=1, max_size=8),
)


def rigged_solution(base: str, methods: dict) -> str:
    lines = [f"class Rigged({base}):"]
    lines += [f"    def {name}({DUNDERS[name]}):\n        {body}" for name, body in sorted(methods.items())]
    if "__eq__" in methods and "__hash__" not in methods:
        lines.append(f"    __hash__ = {base}.__hash__")
    value = f"Rigged({BASES[base]})"
    lines += [
        f"def f(x):\n    return {value}",
        f"def g(x):\n    return {value}",
        f"def h(x):\n    return {value} if x < 0 else False",
    ]
    return "\n".join(lines) + "\n"


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(rigged_classes, st.sampled_from(sorted(BATTERIES)))
def test_rigged_objects_never_raise_the_reward_of_a_wrong_solution(rigged, battery):
    assert score(rigged_solution(*rigged), battery) == 0.0


# ------------------------------------------------------------------ name shadowing

# The builtins the batteries call (a shadow of another name could not matter), and a few more.
SHADOWED = [
    "abs",
    "all",
    "any",
    "float",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "range",
    "repr",
    "round",
    "set",
    "sorted",
    "str",
    "sum",
    "max",
    "min",
    "next",
    "iter",
    "type",
    "print",
    "AssertionError",
    "StopIteration",
]
assert set(SHADOWED) <= set(dir(builtins))
MODULES = ["math", "unittest", "random", "re", "collections", "itertools", "operator", "functools"]
RIGGED_VALUES = [
    "lambda *a, **k: True",
    "lambda *a, **k: 7",
    "lambda *a, **k: 7.0",
    "lambda *a, **k: '7'",
    "lambda *a, **k: 70",
    "lambda *a, **k: [7, 8]",
    "lambda *a, **k: [7, 8, 9, 10, 11, 12, 13]",
    "lambda *a, **k: {7, 8, 9, 10, 11, 12, 13}",
    "lambda *a, **k: a[0] if a else 7",
    "type('Anything', (), {'__eq__': lambda s, o: True, '__hash__': lambda s: 0,"
    " '__getattr__': lambda s, n: (lambda *a, **k: True), '__call__': lambda s, *a, **k: s})()",
]
MODULE_FAKES = [
    "class {name}:\n    def __getattr__(self, attribute):\n        return lambda *a, **k: True\n"
    "{name} = {name}()",
    "import types\n{name} = types.SimpleNamespace(isclose=lambda *a, **k: True, TestCase=object,"
    " main=lambda *a, **k: None, seed=lambda *a: None)",
    "import cmath as {name}",
]

builtin_shadows = st.builds("{} = {}".format, st.sampled_from(SHADOWED), st.sampled_from(RIGGED_VALUES))
module_shadows = st.builds(
    lambda name, fake: fake.format(name=name), st.sampled_from(MODULES), st.sampled_from(MODULE_FAKES)
)
shadowings = st.lists(
    builtin_shadows | module_shadows,
    min_size=3,
    max_size=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(shadowings, st.sampled_from(sorted(BATTERIES)))
def test_shadowed_builtins_and_modules_never_raise_the_reward_of_a_wrong_solution(definitions, battery):
    solution = WRONG + "\n".join(definitions) + "\n"
    assert score(solution, battery) == 0.0
