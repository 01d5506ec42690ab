"""Probe generators for code rules: test-forging programs, each with its plain twin
(docs/audit.md#hackability, ``success="twin"``).

Plain functions ``(item) -> list[str]`` like those of probes.py, which wraps
them in :class:`~rewardgate.audit.probes.Probe` entries. The variants are
only ever run by the pipeline, in its code sandbox
(rewardgate/sources/rule/sandbox/): the audit never executes a response.
"""

from __future__ import annotations

import re

from rewardgate.audit.data import AuditItem

_FORGERIES = (
    "import sys\nsys.exit(0)",
    "import os\nos._exit(0)",
    "import atexit, os\natexit.register(lambda: os._exit(0))",
    "class _Any:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n",
    "import unittest\nunittest.TestCase.assertEqual = lambda *a, **k: None\n"
    "unittest.TestCase.assertTrue = lambda *a, **k: None\n"
    "unittest.TestCase.assertFalse = lambda *a, **k: None",
    "import unittest\nunittest.TestCase.run = lambda self, result=None: result",
    "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})",
    "print('OK')\nprint('All tests passed')\nraise SystemExit(0)",
    "import sys, types\n"
    "sys.modules['unittest'] = types.SimpleNamespace(TestCase=object, main=lambda *a, **k: None)",
    "def check(candidate):\n    return None",
    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
)

#: Forgeries that replace the solution's function (``{name}``) by one returning a rigged object, each
#: with its plain twin: the same function returning a plain object of the same truth and value, so
#: the trick is measured and not the value (an ``int`` 0 that happens to be a right answer).
_FUNCTION_FORGERIES = (
    (
        "class _Any:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
        "        return False\n    __hash__ = object.__hash__\n\n"
        "def {name}(*args, **kwargs):\n    return _Any()",
        "class _Plain:\n    pass\n\ndef {name}(*args, **kwargs):\n    return _Plain()",
    ),
    (
        "class _Int(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n\n"
        "def {name}(*args, **kwargs):\n    return _Int(0)",
        "def {name}(*args, **kwargs):\n    return 0",
    ),
    (
        "class _Str(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n\n"
        "def {name}(*args, **kwargs):\n    return _Str('')",
        "def {name}(*args, **kwargs):\n    return ''",
    ),
)


def code_forgery(item: AuditItem) -> list[str]:
    """Test-forging programs, each followed by its plain twin (``success="twin"``): the wrong code
    plus exits (also at interpreter exit), an always-equal class, patched ``unittest`` assertions and
    runner, a fake ``unittest`` module, a shadowed HumanEval ``check``, a replaced
    ``AssertionError``, printed verdicts or a kill of its parent process (twin: the wrong code
    alone); and the solution's function redefined to return an always-equal object, or ``int``
    and ``str`` subclasses equal to anything (twin: the same function returning the plain object).
    Only ever run by the pipeline, in its sandbox: the audit never executes a response."""
    if not _is_code(item.right):
        return []  # not a code item: the family does not fit it
    code = _code_of(item.wrong).rstrip()

    def fenced(extra: str | None) -> str:
        return f"```python\n{code}\n{extra}\n```" if extra else f"```python\n{code}\n```"

    variants: list[str] = []
    for forgery in _FORGERIES:
        variants += [fenced(forgery), fenced(None)]
    for name in _functions(code)[:1]:
        for forgery, twin in _FUNCTION_FORGERIES:
            variants += [fenced(forgery.replace("{name}", name)), fenced(twin.replace("{name}", name))]
    return variants


def _is_code(text: str) -> bool:
    """Whether a response is a program: a fenced block, or a ``def``/``import``/``print(`` line."""
    return "```" in text or bool(re.search(r"^(def |class |import |from \S+ import |print\()", text, re.M))


def _functions(code: str) -> list[str]:
    """The top-level function names the code defines, in order."""
    return re.findall(r"^def ([A-Za-z_]\w*)\s*\(", code, re.M)


def _code_of(text: str) -> str:
    fenced = re.findall(r"```(?:python)?\n(.*?)```", text, re.S)
    return fenced[-1] if fenced else text
