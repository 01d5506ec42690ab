"""What each name the tests read resolves to (standard library only; runs in the examiner).

The solution's module-level names reach the tests' namespace, but never
over a name that decides how the tests' own code behaves. For a name the
tests read, first match wins:

1. **the tests' own names**: a name the tests bind anywhere at module level
   (assignment, ``def``, ``class``, import, ``global``) is never the
   solution's, not even before the tests bind it;
2. **builtins**: a solution that defines ``abs``, ``sorted``, ``set``,
   ``len``, ``isinstance``, ``print`` or ``range`` changes nothing;
3. **modules**, always the examiner's own import: a standard-library module the
   tests use as ``name.attribute`` (MBPP tests call ``math.isclose`` without
   importing math; a solution's ``class math`` does not stand in for it), and
   a module the solution imported under a name the tests use as a module
   (``import math``, ``import itertools as it``; a module's own name may
   only be bound to that module). A name used as a module and spelled like
   one (no capital letter) is never one of the solution's objects otherwise:
   a ``class np`` does not stand in for numpy, which the sandbox lacks;
4. **the solution's other names**: plain data, or proxies of its functions,
   classes and objects (see :mod:`remote`).

A reference that imports the solution (``from solution import add``,
``import solution``; :data:`reference.SOLUTION_MODULES`) gets a module of the
solution's names, modules again the examiner's own.
"""

import builtins
import importlib
import sys
import types

try:
    from .reference import SOLUTION_MODULES, TestReference
    from .remote import Remote
except ImportError:  # pragma: no cover - the zygote's import path
    from reference import SOLUTION_MODULES, TestReference
    from remote import Remote

#: Standard-library modules never imported for the tests (side effects at import, GUI toolkits).
_UNSAFE_MODULES = frozenset({"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo"})
_BUILTIN_NAMES = frozenset(dir(builtins))


def tests_namespace(reference: TestReference, values: dict, modules: dict) -> dict:
    """The globals the tests run in, from the solution's ``values`` (name -> decoded value)
    and ``modules`` (name -> the module name it claims to be bound to)."""
    namespace = {name: value for name, value in values.items() if _solution_may_bind(name, reference)}
    for name in reference.module_like:
        if _solution_may_bind(name, reference):
            _resolve_module_like(namespace, name, modules.get(name))
    namespace.update(__name__="__main__", __builtins__=builtins)
    return namespace


def _resolve_module_like(namespace: dict, name: str, claim) -> None:
    """A name the tests use only as ``name.attribute``: the standard-library module of that
    name, else the module the solution imported under it; failing both, a name spelled like a
    module (no capital letter) is the solution's plain data or nothing, never one of its objects
    (a ``class np`` does not stand in for numpy), while ``Calculator.add`` stays the solution's."""
    module = importable(name, name if name in sys.stdlib_module_names else claim)
    if module is not None:
        namespace[name] = module
    elif name.islower() and isinstance(namespace.get(name), Remote | type):
        del namespace[name]


def _solution_may_bind(name, reference: TestReference) -> bool:
    return (
        type(name) is str
        and name.isidentifier()
        and not name.startswith("__")
        and name not in _BUILTIN_NAMES
        and name not in reference.bound
    )


def importable(name: str, module_name):
    """The examiner's own import of stdlib module ``module_name`` to bind as ``name``, or ``None``."""
    if type(module_name) is not str or not all(part.isidentifier() for part in module_name.split(".")):
        return None
    top = module_name.split(".")[0]
    if top not in sys.stdlib_module_names or top in _UNSAFE_MODULES:
        return None
    if name in sys.stdlib_module_names and module_name != name:
        return None  # ``math`` is math, never cmath or a look-alike
    try:
        return importlib.import_module(module_name)
    except BaseException:  # a module this interpreter lacks: the name stays unbound
        return None


def install_solution_module(reference: TestReference, values: dict, modules: dict) -> None:
    """Make ``import solution`` (and the other :data:`SOLUTION_MODULES` the tests import) find it."""
    wanted = reference.imports & SOLUTION_MODULES
    if not wanted:
        return
    module = types.ModuleType("solution")
    names = {name: value for name, value in values.items() if type(name) is str and not name.startswith("__")}
    module.__dict__.update(names)
    module.__all__ = [name for name in names if not name.startswith("_") and name not in _BUILTIN_NAMES]

    def module_attribute(attribute: str):  # PEP 562: the solution's modules, imported when asked for
        found = importable(attribute, modules.get(attribute))
        if found is None:
            raise AttributeError(f"module 'solution' has no attribute {attribute!r}")
        return found

    module.__getattr__ = module_attribute
    for name in wanted:
        sys.modules[name] = module
