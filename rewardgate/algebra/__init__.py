"""The reward algebra: declarative transforms, ensembles, combination, gates,
constraints, routing and process rewards (docs/reward-algebra.md).

``spec`` holds the YAML shapes, ``functions`` the pure arithmetic,
``running_stats`` the persisted streaming statistics; evaluation over a
request lives in rewardgate/pipeline/evaluator.py.
"""
