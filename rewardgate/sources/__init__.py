"""Score sources, one folder per kind, behind one interface (base.py).

* ``model/``: reward models: the source (source.py), the dynamic batcher
  (batching/), where forward passes run (backends/: in-process or Triton), the
  Hugging Face runners (runners/) and the Triton python model (triton/);
* ``rule/``: verifiable rules: the source (source.py), one module per family,
  the registry, the verifier pool and the code sandbox (sandbox/);
* ``likelihood/``: ``kind: likelihood`` models, a model kind: span log-probabilities;
* ``judge/``: LLM judges: the source (source.py), the OpenAI-compatible client
  (client.py), prompt templates and reply parsing.

Each kind owns the YAML shape of its entries (``spec.py``) and builds its own
sources (``build.py``: one public function from specs, the settings it reads
and the metrics to sources keyed by :class:`~rewardgate.sources.base.SourceKey`).
The scoring core (rewardgate/core/, pipeline/, store/) sees only
:class:`~rewardgate.sources.base.ScoreSource` and ``SourceKey``; the runtime
asks each kind for its sources.
"""
