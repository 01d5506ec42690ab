"""The ``rewardgate`` command line."""
