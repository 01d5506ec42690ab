"""OpenRLHF python-file reward function backed by rewardgate.

    REWARDGATE_URL=http://rewardgate:8000 REWARDGATE_PIPELINE=math \
    python -m openrlhf.cli.train_ppo_ray ... --remote_rm_url clients/examples/openrlhf_reward_func.py

(For OpenRLHF's HTTP mode, use ``--remote_rm_url http://rewardgate:8000/get_reward`` instead.)
"""

from rewardgate_client.integrations.openrlhf import reward_func

__all__ = ["reward_func"]
