"""LLM-as-judge components: declarations, prompt templates and output parsing.

The HTTP client (bulkhead, budgets, retries, breaker) is
service/sources/judge/client.py; the score source is service/sources/judge/source.py.
"""
