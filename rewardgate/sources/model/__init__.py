"""Reward models as score sources: batched, in-process or on Triton."""
