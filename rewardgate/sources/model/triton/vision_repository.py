"""Writing a Triton model repository for a ``kind: vision_reward_model``.

``rewardgate triton-repo --kind vision_reward_model --model PATH --name NAME --out DIR`` writes
``DIR/NAME/config.pbtxt`` and ``DIR/NAME/1/model.py`` (one import of
rewardgate/sources/model/triton/vision_model.py); see docs/triton.md.
"""

from __future__ import annotations

from pathlib import Path

from rewardgate.sources.model.triton import IMAGE_COUNTS, IMAGES, INPUT_IDS, LENGTHS, REWARDS
from rewardgate.sources.model.triton.repository import (
    MODEL_PY,
    TritonModelSettings,
    _dynamic_batching,
    _instance_kind,
)

VISION_MODEL_PY = MODEL_PY.replace(
    "rewardgate.sources.model.triton.python_model", "rewardgate.sources.model.triton.vision_model"
).replace("the shared rewardgate reward-model runner", "the shared rewardgate VLM reward-model runner")


def render_config(
    name: str, model_path: Path, heads: int, version: str, settings: TritonModelSettings
) -> str:
    return f"""name: "{name}"
backend: "python"
max_batch_size: {settings.max_batch_size}
input [
  {{ name: "{INPUT_IDS}" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "{LENGTHS}" data_type: TYPE_INT64 dims: [ 1 ] }},
  {{ name: "{IMAGES}" data_type: TYPE_STRING dims: [ -1 ] }},
  {{ name: "{IMAGE_COUNTS}" data_type: TYPE_INT64 dims: [ 1 ] }}
]
output [
  {{ name: "{REWARDS}" data_type: TYPE_FP32 dims: [ {heads} ] }}
]
instance_group [ {{ count: {settings.instances} kind: {_instance_kind(settings.device)} }} ]
{_dynamic_batching(settings)}parameters {{ key: "model_path" value: {{ string_value: "{model_path}" }} }}
parameters {{ key: "rewardgate_version" value: {{ string_value: "{version}" }} }}
parameters {{ key: "dtype" value: {{ string_value: "{settings.dtype}" }} }}
parameters {{ key: "torch_threads" value: {{ string_value: "{settings.torch_threads}" }} }}
"""


def write_repository(model_path: Path, name: str, out: Path, settings: TritonModelSettings) -> Path:
    """Write ``out/name`` for a VLM reward model directory; returns it. The head count comes from
    its ``reward_head`` (no weights loaded)."""
    from rewardgate.sources.model.runners.versioning import directory_version
    from rewardgate.sources.model.runners.vision_reward_model import read_head_names

    model_path = Path(model_path).resolve()
    heads = len(read_head_names(model_path))
    model_dir = Path(out) / name
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(
        render_config(name, model_path, heads, directory_version(model_path), settings)
    )
    (model_dir / "1" / "model.py").write_text(VISION_MODEL_PY)
    return model_dir
