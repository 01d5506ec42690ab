"""LLM-as-judge components: declarations, prompt templates and output parsing.

The HTTP client (bulkhead, budgets, retries, breaker) is
rewardgate/sources/judge/client.py; the score source is rewardgate/sources/judge/source.py.
"""
