"""Test formats of RL code datasets, and the host-side comparison of their outputs.

A ``code_tests`` reference is either Python test source (``assert``
statements, a unittest module, or HumanEval-style calls such as
``check(add)``; what counts as a test is :mod:`rewardgate.sources.rule.sandbox.reference`'s
to say) or JSON input/output cases:

* ``{"inputs": [...], "outputs": [...]}``: stdin/stdout cases (APPS,
  CodeContests, LiveCodeBench, DeepCoder); each input is fed to a fresh run
  of the program and its stdout must equal the output after whitespace
  normalisation (tokens split on any whitespace; list inputs/outputs are
  joined by newlines);
* the same with ``"fn_name"``: call-based cases (APPS); each input is the
  list of positional arguments, the result must equal the output (a
  one-element list output also matches its element, as APPS compares;
  tuples compare as lists; ``True`` never equals ``1``);
* ``{"input_output": "<that JSON as a string>"}`` (APPS's column), or a list
  of ``{"input", "output"}`` objects.

Expected outputs never enter the sandbox: they are compared here.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from rewardgate.errors import InvalidReference
from rewardgate.sources.rule.sandbox import reference as test_reference
from rewardgate.sources.rule.sandbox import wire
from rewardgate.sources.rule.values import same_value


@dataclass(frozen=True)
class TestPlan:
    """How to run a reference: ``mode`` tests, calls or stdio, and what to compare with."""

    mode: str
    payload: dict
    expected: tuple = ()


def parse_reference(reference: str) -> TestPlan:
    """Raises InvalidReference for a reference that cannot run: neither JSON cases nor Python,
    no tests, or modules the sandbox does not have (decided from the reference alone)."""
    text = reference.strip()
    if text[:1] in "{[":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if data is not None:
            return _cases_plan(data)
    known = _python_tests(reference)
    if isinstance(known, str):
        raise InvalidReference(known)
    return TestPlan("tests", {"kind": "tests", "tests": reference, "reference": known})


@functools.lru_cache(maxsize=64)
def _python_tests(source: str) -> dict | str:
    """What the examiner needs to know of Python tests (:func:`test_reference.summary`), or why they
    cannot run. Cached: the samples of one prompt share their reference."""
    try:
        parsed = test_reference.read(source)
    except (SyntaxError, ValueError) as exc:
        return f"the reference is neither JSON test cases nor Python tests: {exc}"
    return test_reference.problem(parsed) or test_reference.summary(parsed)


def _cases_plan(data) -> TestPlan:
    if isinstance(data, dict) and isinstance(data.get("input_output"), str):
        try:
            data = json.loads(data["input_output"])
        except ValueError:
            raise InvalidReference("input_output is not JSON") from None
    if isinstance(data, list) and all(isinstance(case, dict) and "input" in case for case in data):
        data = {"inputs": [c["input"] for c in data], "outputs": [c.get("output") for c in data]}
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
        raise InvalidReference("JSON test cases need 'inputs' and 'outputs' lists")
    inputs, outputs = data["inputs"], data.get("outputs")
    if not isinstance(outputs, list) or len(outputs) != len(inputs) or not inputs:
        raise InvalidReference("'inputs' and 'outputs' must be non-empty lists of the same length")
    fn_name = data.get("fn_name")
    if fn_name is not None:
        if not isinstance(fn_name, str) or not fn_name.isidentifier():
            raise InvalidReference("'fn_name' must be a Python identifier")
        if not all(isinstance(case, list) for case in inputs):
            raise InvalidReference("call-based 'inputs' must be lists of arguments")
        payload = {"kind": "calls", "fn_name": fn_name, "inputs": [wire.encode(case) for case in inputs]}
        return TestPlan("calls", payload, tuple(outputs))
    return TestPlan("stdio", {"inputs": [_text(case) for case in inputs]}, tuple(map(_text, outputs)))


def _text(value) -> str:
    if isinstance(value, list):
        return "\n".join(map(str, value))
    return "" if value is None else str(value)


def stdio_passed(case: dict, expected: str) -> bool:
    """A clean exit, inside the budget, printing the expected tokens."""
    clean = case.get("exit") == 0 and not case.get("timed_out") and not case.get("output_limit")
    return clean and str(case.get("stdout", "")).split() == expected.split()


def call_passed(record: dict, expected) -> bool:
    if "value" not in record:
        return False
    try:
        value = wire.decode(record["value"])
    except wire.WireError:
        return False
    if same_value(value, expected):
        return True
    return isinstance(expected, list) and len(expected) == 1 and same_value(value, expected[0])
