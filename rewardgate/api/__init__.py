"""Transports: thin handlers that parse, call the RewardCore, and encode its results."""
