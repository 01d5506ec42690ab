"""Offline evaluation of a pipeline: preference pairs and best-of-N sets (`rewardgate eval`)."""
