"""Sliding-window reward statistics: what the rewards a pipeline hands out look like."""
