"""Verifiable rules: pure checks of a response, one module per family."""
