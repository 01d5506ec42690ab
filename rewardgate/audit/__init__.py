"""``rewardgate audit``: how a policy could break a pipeline, and how two pipelines differ.

Read top-down: ``data.py`` (the audited items), ``probes.py`` (adversarial
variants per family; ``probes_code.py``, ``probes_vision.py`` and ``probes_groups.py``
the generators for code rules, image items and group components), ``position.py`` (pairwise judges' position
bias from both orders apart), ``perturb.py`` (meaning-preserving variants),
``plan.py`` (every response to score, labelled), ``scoring.py`` (the one
adapter to the in-process core or a running service: a scoring target), ``store.py``
(resumable score table), ``figures.py`` (every figure, pure numpy/scipy),
``report.py`` (report.json, report.md, plots). docs/audit.md explains every
figure.
"""
