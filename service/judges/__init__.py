"""LLM-as-judge components: declarations, prompt templates and output parsing.

The HTTP client (bulkhead, budgets, retries, breaker) is
service/backends/judge.py; the score source is service/scoring/judge_source.py.
"""
