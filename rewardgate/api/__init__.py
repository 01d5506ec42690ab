"""Transports: thin handlers that parse, call the RewardScorer, and map results."""
