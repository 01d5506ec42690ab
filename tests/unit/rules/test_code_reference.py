"""What a Python test reference asks, read from its syntax before any code runs."""

import ast
import json

import pytest

from rewardgate.errors import InvalidReference
from rewardgate.sources.rule.code_cases import parse_reference
from rewardgate.sources.rule.sandbox import reference

HUMANEVAL = (
    "import random\n"
    "METADATA = {'author': 'x'}\n"
    "def _assert_close(a, b):\n    assert abs(a - b) < 1e-6\n"
    "def check(candidate):\n    _assert_close(candidate(1.0), 0.5)\n"
    "random.seed(0)\n"
    "print('set-up output')\n"
    "check(half)\n"
)
UNITTEST_WITH_FOOTER = (
    "from solution import add\nimport unittest\n"
    "class Base(unittest.TestCase):\n    def test_small(self):\n        self.assertEqual(add(1, 2), 3)\n"
    "class More(Base):\n    def test_big(self):\n        pass\n    def helper(self):\n        pass\n"
    "class NotATest:\n    def test_ignored(self):\n        pass\n"
    "if __name__ == '__main__':\n"
    "    class Late(unittest.TestCase):\n        def test_late(self):\n            pass\n"
    "    unittest.main(verbosity=2)\n"
)


def test_asserts_count_each_asserting_statement_and_nothing_else():
    source = "import math\nxs = [1, 2]\nassert f(1) == 2\nfor x in xs:\n    assert f(x) > 0\nprint(f(3))\n"
    parsed = reference.read(source)
    assert parsed.style == "statements" and parsed.total == 2
    assert [type(parsed.body[i]).__name__ for i in sorted(parsed.tests)] == ["Assert", "For"]


def test_humaneval_set_up_calls_run_but_are_not_tests():
    parsed = reference.read(HUMANEVAL)
    assert parsed.total == 1
    (index,) = parsed.tests
    assert "check(half)" in ast.unparse(parsed.body[index])
    assert {"random", "METADATA", "check", "_assert_close"} <= parsed.bound
    assert "half" not in parsed.bound


def test_a_main_guard_runs_in_place_in_a_statements_reference():
    parsed = reference.read("def check(c):\n    assert c(1)\nif __name__ == '__main__':\n    check(f)\n")
    assert parsed.total == 1


def test_unittest_counts_methods_from_the_syntax_and_the_examiner_is_the_runner():
    parsed = reference.read(UNITTEST_WITH_FOOTER)
    assert parsed.style == "unittest"
    # Base: test_small; More: test_small (inherited) and test_big; Late, defined in the guard: test_late.
    assert parsed.total == 4
    statements = [ast.unparse(s) for s in parsed.body]
    assert not any("unittest.main" in s for s in statements)
    assert "solution" in parsed.imports


@pytest.mark.parametrize(
    "runner",
    [
        "unittest.main()\n",
        "unittest.main(argv=[''], exit=False)\n",
        "result = unittest.TextTestRunner(verbosity=2).run(unittest.TestLoader().loadTestsFromTestCase(T))\n",
    ],
)
def test_test_runners_outside_a_guard_are_not_run_either(runner):
    source = "import unittest\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n" + runner
    parsed = reference.read(source)
    assert [type(s).__name__ for s in parsed.body] == ["Import", "ClassDef"]


def test_names_bound_anywhere_at_module_level_are_the_tests_own():
    source = (
        "import os.path\nfrom collections import Counter as C\nx = y = 1\nfor i, (j, k) in []:\n    pass\n"
        "try:\n    pass\nexcept ValueError as err:\n    pass\nwith open('f') as fh:\n    pass\n"
        "def setup():\n    global late\n    late = 1\n    local = 2\n"
        "class K:\n    attribute = 1\n"
        "assert (w := 3)\n"
    )
    bound = reference.read(source).bound
    assert bound >= {"os", "C", "x", "y", "i", "j", "k", "err", "fh", "setup", "late", "K", "w"}
    assert not bound & {"local", "attribute", "Counter"}


def test_module_like_names_are_those_read_only_as_name_dot_attribute():
    parsed = reference.read("assert math.isclose(f(1), 2)\nassert sorted(g(re)) == []\nassert re.X\n")
    assert parsed.module_like == {"math"}
    assert {"math", "f", "g", "re", "sorted"} <= parsed.reads


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("x = 1\nprint(x)\n", "no tests"),
        ("def check(candidate):\n    assert candidate(1)\n", "no tests"),  # never called
        ("def check(c):\n    print(c(1))\ncheck(f)\n", "no tests"),  # checks nothing
        ("from solution import f\ndef test_f():\n    assert f(1) == 2\n", "pytest functions"),
        ("import numpy as np\nassert f(1) == 1\n", "numpy"),
        ("def check(c):\n    import pandas\n    assert c(1)\ncheck(f)\n", "pandas"),
        ("from . import helpers\nassert f(1)\n", "relative import"),
    ],
)
def test_references_that_cannot_run_are_invalid_from_their_syntax_alone(source, problem):
    assert problem in reference.problem(reference.read(source))
    with pytest.raises(InvalidReference, match=problem):
        parse_reference(source)


@pytest.mark.parametrize(
    "source",
    [
        "try:\n    import numpy\nexcept ImportError:\n    numpy = None\nassert f(1)\n",
        "from solution import f\nassert f(1)\n",
        "import solution\nassert solution.f(1)\n",
        "from __future__ import annotations\nimport collections.abc\nassert f(1)\n",
        HUMANEVAL,
        UNITTEST_WITH_FOOTER,
    ],
)
def test_usable_references_have_no_problem(source):
    assert reference.problem(reference.read(source)) is None
    assert parse_reference(source).mode == "tests"


@pytest.mark.parametrize("source", [HUMANEVAL, UNITTEST_WITH_FOOTER, "import math\nassert f(1)\nx = 2\n"])
def test_the_examiner_rebuilds_the_hosts_reading_from_its_summary(source):
    read = reference.read(source)
    summary = reference.summary(read)
    assert json.loads(json.dumps(summary)) == summary  # plain data, as the payload carries it
    rebuilt = reference.read(source, summary)
    assert [ast.dump(s) for s in rebuilt.body] == [ast.dump(s) for s in read.body]
    assert {k: v for k, v in rebuilt.__dict__.items() if k != "body"} == {
        k: v for k, v in read.__dict__.items() if k != "body"
    }
