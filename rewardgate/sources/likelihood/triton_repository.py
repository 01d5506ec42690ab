"""Writing a Triton model repository for a ``kind: likelihood`` model (or pair).

``rewardgate triton-repo --kind likelihood --model PATH [--reference-model PATH]`` writes
``DIR/NAME/config.pbtxt`` and ``DIR/NAME/1/model.py`` (one import of
rewardgate/sources/likelihood/triton_model.py); see docs/triton.md.
"""

from __future__ import annotations

from pathlib import Path

from rewardgate.sources.model.triton import INPUT_IDS, LENGTHS
from rewardgate.sources.model.triton.repository import (
    MODEL_PY,
    TritonModelSettings,
    _dynamic_batching,
    _instance_kind,
)

STARTS = "starts"
TOKEN_LOGPROBS = "token_logprobs"
REF_TOKEN_LOGPROBS = "ref_token_logprobs"

LIKELIHOOD_MODEL_PY = MODEL_PY.replace(
    "rewardgate.sources.model.triton.python_model", "rewardgate.sources.likelihood.triton_model"
).replace("the shared rewardgate reward-model runner", "the shared rewardgate likelihood forward")


def render_config(
    name: str, model_path: Path, reference_path: Path | None, version: str, settings: TritonModelSettings
) -> str:
    outputs = [TOKEN_LOGPROBS, *([REF_TOKEN_LOGPROBS] if reference_path else [])]
    output_lines = ",\n".join(f'  {{ name: "{out}" data_type: TYPE_FP32 dims: [ -1 ] }}' for out in outputs)
    return f"""name: "{name}"
backend: "python"
max_batch_size: {settings.max_batch_size}
input [
  {{ name: "{INPUT_IDS}" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "{LENGTHS}" data_type: TYPE_INT64 dims: [ 1 ] }},
  {{ name: "{STARTS}" data_type: TYPE_INT64 dims: [ 1 ] }}
]
output [
{output_lines}
]
instance_group [ {{ count: {settings.instances} kind: {_instance_kind(settings.device)} }} ]
{_dynamic_batching(settings)}parameters {{ key: "model_path" value: {{ string_value: "{model_path}" }} }}
parameters {{ key: "reference_path" value: {{ string_value: "{reference_path or ""}" }} }}
parameters {{ key: "rewardgate_version" value: {{ string_value: "{version}" }} }}
parameters {{ key: "dtype" value: {{ string_value: "{settings.dtype}" }} }}
parameters {{ key: "torch_threads" value: {{ string_value: "{settings.torch_threads}" }} }}
"""


def write_repository(
    model_path: Path, name: str, out: Path, settings: TritonModelSettings, reference_path: Path | None = None
) -> Path:
    """Write ``out/name`` for a causal LM (and its reference model); returns it."""
    from rewardgate.sources.model.runners.versioning import directory_version

    model_path = Path(model_path).resolve()
    reference_path = Path(reference_path).resolve() if reference_path else None
    version = directory_version(model_path) + (
        f"+{directory_version(reference_path)}" if reference_path else ""
    )
    model_dir = Path(out) / name
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(
        render_config(name, model_path, reference_path, version, settings)
    )
    (model_dir / "1" / "model.py").write_text(LIKELIHOOD_MODEL_PY)
    return model_dir
