"""OpenRLHF python-file reward function backed by rewardgate.

    REWARDGATE_URL=http://rewardgate:8000 REWARDGATE_PIPELINE=math \
    python -m openrlhf.cli.train_ppo_ray ... --reward.remote_url clients/examples/openrlhf_reward_func.py

(For OpenRLHF's HTTP mode, use ``--reward.remote_url http://rewardgate:8000/get_reward`` instead;
older OpenRLHF versions call the flag ``--remote_rm_url``.) REWARDGATE_TIMEOUT_S sets the
seconds per call (60 by default).
"""

from rewardgate_client.integrations.openrlhf import reward_func

__all__ = ["reward_func"]
