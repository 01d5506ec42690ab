"""Writing a Triton model repository for a Hugging Face reward model.

``rewardgate triton-repo --model PATH --name NAME --out DIR`` creates::

    DIR/NAME/config.pbtxt   # shapes, output width, instances, weights path (and Triton's batcher if asked)
    DIR/NAME/1/model.py     # one import: rewardgate.sources.model.triton.python_model.TritonPythonModel

The python backend imports ``service`` and torch from the Triton process's
Python path (see rewardgate/sources/model/triton/local_server.py and docs/triton.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rewardgate.sources.model.triton import (
    INPUT_IDS,
    LENGTHS,
    PACKED_IDS,
    PACKED_LENGTHS,
    PACKED_REWARDS,
    REWARDS,
)

MODEL_PY = '''"""Triton python-backend entry point: the shared rewardgate reward-model runner."""

import os
import site

# The python backend stub embeds an interpreter that ignores PYTHONPATH; when
# rewardgate and torch live in a virtualenv, REWARDGATE_SITE_DIRS names its
# site-packages (addsitedir also reads their .pth files, e.g. editable installs).
for directory in filter(None, os.environ.get("REWARDGATE_SITE_DIRS", "").split(os.pathsep)):
    site.addsitedir(directory)

from rewardgate.sources.model.triton.python_model import TritonPythonModel  # noqa: E402, F401
'''


@dataclass(frozen=True)
class TritonModelSettings:
    """Serving choices written into config.pbtxt (see docs/triton.md for why).

    ``dynamic_batching`` puts Triton's own batcher (with the ``max_queue_*`` and
    ``queue_timeout_us`` queue policy) in front of the instances. It is off by
    default: the gateway sends whole batches already, and Triton 2.51's batcher
    intermittently holds a request for its 0.5 s idle wait (docs/benchmarks.md,
    ``bench/triton_stall.py``). Turn it on when other clients call Triton
    directly with small requests.
    """

    max_batch_size: int = 64
    dynamic_batching: bool = False
    max_queue_delay_us: int = 2000
    max_queue_size: int = 256
    queue_timeout_us: int = 30_000_000
    instances: int = 1
    device: str = "auto"  # auto | cpu | gpu
    dtype: str = "auto"
    torch_threads: int = 0


def render_config(
    name: str, model_path: Path, heads: int, version: str, settings: TritonModelSettings
) -> str:
    kind = _instance_kind(settings.device)
    return f"""name: "{name}"
backend: "python"
max_batch_size: {settings.max_batch_size}
input [
  {{ name: "{PACKED_IDS}" data_type: TYPE_INT64 dims: [ -1 ] optional: true }},
  {{ name: "{PACKED_LENGTHS}" data_type: TYPE_INT64 dims: [ -1 ] optional: true }},
  {{ name: "{INPUT_IDS}" data_type: TYPE_INT64 dims: [ -1 ] optional: true }},
  {{ name: "{LENGTHS}" data_type: TYPE_INT64 dims: [ 1 ] optional: true }}
]
output [
  {{ name: "{PACKED_REWARDS}" data_type: TYPE_FP32 dims: [ -1 ] }},
  {{ name: "{REWARDS}" data_type: TYPE_FP32 dims: [ {heads} ] }}
]
instance_group [ {{ count: {settings.instances} kind: {kind} }} ]
{_dynamic_batching(settings)}parameters {{ key: "model_path" value: {{ string_value: "{model_path}" }} }}
parameters {{ key: "rewardgate_version" value: {{ string_value: "{version}" }} }}
parameters {{ key: "dtype" value: {{ string_value: "{settings.dtype}" }} }}
parameters {{ key: "torch_threads" value: {{ string_value: "{settings.torch_threads}" }} }}
"""


def _dynamic_batching(settings: TritonModelSettings) -> str:
    if not settings.dynamic_batching:
        return ""
    return f"""dynamic_batching {{
  max_queue_delay_microseconds: {settings.max_queue_delay_us}
  default_queue_policy {{
    timeout_action: REJECT
    default_timeout_microseconds: {settings.queue_timeout_us}
    allow_timeout_override: true
    max_queue_size: {settings.max_queue_size}
  }}
}}
"""


def _instance_kind(device: str) -> str:
    if device == "auto":
        import torch

        device = "gpu" if torch.cuda.is_available() else "cpu"
    return {"gpu": "KIND_GPU", "cpu": "KIND_CPU"}[device]


def write_repository(model_path: Path, name: str, out: Path, settings: TritonModelSettings) -> Path:
    """Write ``out/name``; returns it. Reads the model's config for the head count."""
    from transformers import AutoConfig

    from rewardgate.sources.model.runners.versioning import directory_version

    model_path = Path(model_path).resolve()
    heads = AutoConfig.from_pretrained(model_path).num_labels
    model_dir = Path(out) / name
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(
        render_config(name, model_path, heads, directory_version(model_path), settings)
    )
    (model_dir / "1" / "model.py").write_text(MODEL_PY)
    return model_dir
