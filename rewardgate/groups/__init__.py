"""Groups as a unit: what a group component is, below the pipeline that runs it.

``extract.py`` (answers compared by a vote), ``methods.py`` (majority vote,
view agreement, duplicate penalty, Bradley-Terry: pure functions of one
group), ``spec.py`` (the ``group:`` component's YAML), ``stats.py``
(monitoring), ``peers.py`` (which replica owns a group). Formulas:
docs/reward-algebra.md.

The room sits below ``config`` (which composes ``spec.py`` into the pipeline
file) and above ``sources`` (answers are normalised as the text rules do).
What needs the rooms above lives there: a group component's column over an
evaluation's items in ``pipeline/group_column.py``; groups whose samples
arrive over several requests in ``core/group_assembler.py``,
``core/group_membership.py`` and ``core/group_forward.py`` (docs/architecture.md#layering).
"""
