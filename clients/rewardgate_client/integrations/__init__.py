"""Adapters that make rewardgate a one-line change in RL trainers.

* :mod:`.trl` — ``reward_funcs`` for TRL's GRPOTrainer (sync or async);
* :mod:`.verl` — ``compute_score`` for verl's reward managers;
* :mod:`.openrlhf` — ``reward_func`` for OpenRLHF's python-file reward mode
  (its ``--reward.remote_url`` HTTP mode needs no adapter: point it at ``/get_reward``).

slime needs no adapter either: its ``--rm-url`` points at ``/slime/reward``.
None of these import the trainer; they follow its calling convention.
"""
