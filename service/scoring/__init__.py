"""Validation, cache, fan-out to sources, and combination of scores."""
