"""Likelihood rewards: a causal LM's log-probabilities of a chosen span.

``kind: likelihood`` is a model kind (``models:`` section of the pipeline
file), so it shares the model path end to end: tokenisation off the event
loop, the dynamic batcher with its token budget, the score cache, readiness
and batch metrics. This folder holds what is specific to it:

* ``spec.py``: the ``likelihood:`` block of a model (span, reduction, pair, truncation);
* ``spans.py``: item -> token ids with the scored span located exactly;
* ``logprobs.py``: batched per-token log-probabilities and their reductions;
* ``runner.py``: the model (or policy/reference pair) behind the batcher, in-process;
* ``source.py``: the model source that also reports its values to the likelihood drift monitor;
* ``triton_backend.py``, ``triton_model.py``, ``triton_repository.py``: the same on Triton.

docs/reward-algebra.md#likelihood-rewards explains the methods and their failure modes.
"""
