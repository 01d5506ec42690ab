"""Adapters that make rewardgate a one-line change in RL trainers.

* :mod:`.trl` — ``reward_funcs`` for TRL's GRPOTrainer (sync or async);
* :mod:`.verl` — ``compute_score`` for verl's reward managers;
* :mod:`.openrlhf` — ``reward_func`` for OpenRLHF's python-file reward mode
  (its ``--reward.remote_url`` HTTP mode needs no adapter: point it at ``/get_reward``).

* :mod:`.slime` — a ``--custom-rm-path`` reward function for slime (its
  ``--rm-type remote_rm`` mode needs no adapter: point ``--rm-url`` at ``/slime/reward``).

The adapters fail fast with the service's message on a permanent error, where
the trainers' own HTTP modes retry it and drop the message (docs/client.md).
None of these import the trainer; they follow its calling convention.
"""
