"""What a Python test reference asks, read from its syntax alone (standard library only).

Used by the host, which refuses a reference that cannot run before any code
does and passes what it read (:func:`summary`) to the examiner, which runs it
(re-reading only the statements). Nothing here sees the candidate, so
nothing here can be steered by it: which statements are tests, how many
there are and which names the tests bind are fixed before the solution
answers.

The reference runs as ``python tests.py`` would run it, with two styles:

* **statements** (MBPP asserts, HumanEval ``check(candidate)``): every
  top-level statement that asserts (an ``assert``, also inside a top-level
  ``for``, ``if``, ``with`` or ``try``) or calls a checking function of the
  tests (one that asserts or raises, directly or through another) is one
  test. Every other statement is set-up (``random.seed(0)``, imports, data):
  run, never counted. An ``if __name__ == "__main__":`` block runs in place.
* **unittest**: a module defining ``TestCase`` subclasses; each test method
  (``test*``, inherited ones included) is one test, counted from the syntax,
  so a class body that fails at run time fails its tests rather than
  removing them. The examiner is the test runner: a ``__main__`` block adds only
  its definitions and imports, and top-level calls of ``unittest.main()``
  or a ``TextTestRunner`` are not run.
"""

import ast
import sys
from dataclasses import dataclass

#: Modules a reference imports the solution as (``from solution import add``).
SOLUTION_MODULES = frozenset({"solution", "submission", "main"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_RUNNERS = frozenset({"unittest.main", "main", "unittest.TextTestRunner", "TextTestRunner"})


@dataclass(frozen=True)
class TestReference:
    """A parsed reference: what to run, which statements are tests, and the names involved."""

    style: str  # "statements" or "unittest"
    body: tuple  # the top-level statements to run, in order
    tests: frozenset  # indexes into ``body`` of the statements that are tests (statements style)
    total: int
    bound: frozenset  # names the tests bind at module level
    reads: frozenset  # names the tests read anywhere
    module_like: frozenset  # names the tests read only as ``name.attribute``
    imports: frozenset  # top-level names of the modules the tests import (``None`` for a relative import)


def read(source: str, known: dict | None = None) -> TestReference:
    """The reference in ``source``; ``known`` is :func:`summary` of an earlier read of the same
    source (the host's), which spares the examiner the analysis.

    Raises:
        SyntaxError, ValueError: ``source`` is not Python.
    """
    tree = ast.parse(source, "tests.py")
    flat = _flatten_main_guard(tree.body, definitions_only=False)
    unittest_style = known["style"] == "unittest" if known else bool(_test_cases(flat))
    if unittest_style:
        guarded = _flatten_main_guard(tree.body, definitions_only=True)
        body = tuple(s for s in guarded if not _runs_unittest_main(s, flat))
    else:
        body = tuple(flat)
    if known is not None:
        return TestReference(body=body, **{key: _FIELDS[key](value) for key, value in known.items()})
    if unittest_style:
        tests, total = frozenset(), _count_test_methods(body)
    else:
        checkers = _checking_functions(body)
        tests = frozenset(i for i, s in enumerate(body) if _is_test_statement(s, checkers))
        total = len(tests)
    reads, module_like, declared_global = _scan_names(tree)
    return TestReference(
        style="unittest" if unittest_style else "statements",
        body=body,
        tests=tests,
        total=total,
        bound=_bound_names(body) | declared_global,
        reads=reads,
        module_like=module_like,
        imports=_imported(tree.body, False),
    )


#: How each field of :func:`summary` is rebuilt.
_FIELDS = {
    "style": str,
    "tests": frozenset,
    "total": int,
    "bound": frozenset,
    "reads": frozenset,
    "module_like": frozenset,
    "imports": frozenset,
}


def summary(reference: TestReference) -> dict:
    """Everything but the statements, as plain data (for :func:`read`'s ``known``)."""
    fields = {key: getattr(reference, key) for key in _FIELDS}
    return {key: sorted(v, key=str) if isinstance(v, frozenset) else v for key, v in fields.items()}


def problem(reference: TestReference) -> str | None:
    """Why the reference cannot run in the sandbox (no tests, modules it does not have), else ``None``."""
    if reference.total == 0 and any(_is_test_function(s) for s in reference.body):
        return "the reference's tests are pytest functions (def test_...), which plain Python does not run"
    if reference.total == 0:
        return "the reference contains no tests (no assert, test method or call of a checking function)"
    if None in reference.imports:
        return "the reference uses a relative import"
    missing = sorted(
        name for name in reference.imports - SOLUTION_MODULES - {None} if name not in sys.stdlib_module_names
    )
    if missing:
        return f"the reference imports {', '.join(missing)}: the sandbox has the standard library only"
    return None


def _is_test_function(node) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")


def _is_main_guard(node) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.ops) != 1:
        return False
    sides = {ast.unparse(node.test.left), ast.unparse(node.test.comparators[0])}
    return isinstance(node.test.ops[0], ast.Eq) and sides in (
        {"__name__", "'__main__'"},
        {"__name__", '"__main__"'},
    )


def _flatten_main_guard(body, definitions_only: bool) -> list:
    flat = []
    for node in body:
        if not _is_main_guard(node):
            flat.append(node)
        elif definitions_only:
            flat.extend(s for s in node.body if isinstance(s, _DEFINITIONS))
        else:
            flat.extend(node.body)
    return flat


def _runs_unittest_main(node, body) -> bool:
    """A top-level expression or assignment running the tests itself: a call of ``unittest.main``
    (or ``main``, when the tests define none) or of a text runner (``unittest.TextTestRunner``)."""
    if not isinstance(node, ast.Expr | ast.Assign):
        return False
    defined = any(isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and s.name == "main" for s in body)
    runners = _RUNNERS - {"main"} if defined else _RUNNERS
    return any(isinstance(n, ast.Call) and ast.unparse(n.func) in runners for n in ast.walk(node))


def _test_cases(body) -> set:
    """Names of the top-level classes that derive (directly or through each other) from a TestCase."""
    classes = {node.name: node for node in body if isinstance(node, ast.ClassDef)}
    found: set = set()
    while True:
        more = {name for name, node in classes.items() if name not in found and _is_test_case(node, found)}
        if not more:
            return found
        found |= more


def _is_test_case(node, test_cases: set) -> bool:
    if not isinstance(node, ast.ClassDef):
        return False
    return any("TestCase" in ast.unparse(base) or ast.unparse(base) in test_cases for base in node.bases)


def _count_test_methods(body) -> int:
    classes = {node.name: node for node in body if isinstance(node, ast.ClassDef)}

    def methods(name: str, seen: frozenset) -> set:
        node = classes.get(name)
        if node is None or name in seen:
            return set()
        own = {s.name for s in node.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)}
        inherited = set().union(*(methods(ast.unparse(b), seen | {name}) for b in node.bases))
        return {m for m in own | inherited if m.startswith("test")}

    return sum(len(methods(name, frozenset())) for name in _test_cases(body))


def _outside_scopes(node):
    """``node`` and its descendants, not entering functions, classes or lambdas (``node`` included)."""
    yield node
    if not isinstance(node, _SCOPES):
        for child in ast.iter_child_nodes(node):
            yield from _outside_scopes(child)


def _called_names(node) -> set:
    return {
        n.func.id for n in _outside_scopes(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def _checking_functions(body) -> set:
    """Top-level functions that assert or raise, directly or by calling one that does."""
    checkers, calls = set(), {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            calls[node.name] = set()
            for inner in ast.walk(node):
                if isinstance(inner, ast.Assert | ast.Raise):
                    checkers.add(node.name)
                elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name):
                    calls[node.name].add(inner.func.id)
    while True:
        more = {name for name, called in calls.items() if name not in checkers and called & checkers}
        if not more:
            return checkers
        checkers |= more


def _is_test_statement(node, checkers: set) -> bool:
    if isinstance(node, _DEFINITIONS):
        return False
    asserts = any(isinstance(n, ast.Assert) for n in _outside_scopes(node))
    return asserts or bool(_called_names(node) & checkers)


def _bound_names(body) -> frozenset:
    """Names the statements of ``body`` bind at module level (``global`` declarations aside)."""
    names = set()
    for statement in body:
        for node in _outside_scopes(statement):
            names |= _names_bound_by(node)
    return frozenset(names)


def _names_bound_by(node) -> set:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        return {node.id}
    if isinstance(node, _SCOPES[:3]):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*"}
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        return {node.name}
    if isinstance(node, ast.MatchMapping) and node.rest:
        return {node.rest}
    return set()


def _scan_names(tree) -> tuple[frozenset, frozenset, frozenset]:
    """In one pass: (names read anywhere, those read only as the object of an attribute, as ``math``
    in ``math.pi``, names declared ``global`` in a function)."""
    loads, as_objects, declared_global = [], set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads.append(node)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            as_objects.add(id(node.value))
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
    reads = {node.id for node in loads}
    other_uses = {node.id for node in loads if id(node) not in as_objects}
    return frozenset(reads), frozenset(reads - other_uses), frozenset(declared_global)


def _imported(body, guarded: bool) -> frozenset:
    """Top-level module names imported anywhere, except under a ``try`` that handles ImportError."""
    found = set()
    for node in body:
        if isinstance(node, ast.Try | ast.TryStar):
            handled = any(_handles_import_error(handler) for handler in node.handlers)
            found |= _imported(node.body, guarded or handled)
            for block in (node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found |= _imported(block, guarded)
            continue
        if isinstance(node, ast.Import) and not guarded:
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not guarded:
            found.add(None if node.level else (node.module or "").split(".")[0])
        found |= _imported(_child_statements(node), guarded)
    return frozenset(found)


def _child_statements(node) -> list:
    kinds = ast.stmt | ast.excepthandler | ast.match_case
    return [child for child in ast.iter_child_nodes(node) if isinstance(child, kinds)]


def _handles_import_error(handler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(ast.unparse(name) in _IMPORT_ERRORS for name in names)


def module_of(statement) -> ast.Module:
    """One statement as a module to compile on its own."""
    return ast.Module(body=[statement], type_ignores=[])
