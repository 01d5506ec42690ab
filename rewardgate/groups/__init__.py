"""Groups as a unit: components that score each sample against its GRPO group.

``extract.py`` (answers compared by a vote), ``methods.py`` (majority vote,
view agreement, duplicate penalty: pure functions of one group), ``spec.py``
(the ``group:`` component's YAML), ``column.py`` (a group component's column
over a request's items), ``assembler.py`` (groups whose samples arrive over
several requests), ``stats.py`` (monitoring). Formulas: docs/reward-algebra.md.
"""
