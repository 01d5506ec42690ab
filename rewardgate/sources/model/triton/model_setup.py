"""What every rewardgate Triton python model does first in ``initialize``.

The reward-model, VLM and likelihood models (python_model.py, vision_model.py,
sources/likelihood/triton_model.py) run in Triton's python-backend stub and
start the same way: refuse a numpy the stub cannot use (stub_numpy.py), apply
the repository's ``torch_threads`` parameter, and place the model on the GPU
Triton gave the instance, or the CPU.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from rewardgate.sources.model.triton.stub_numpy import stub_numpy_problem


def start_model(args: dict) -> tuple[dict[str, str], str]:
    """The model's string parameters (``config.pbtxt``'s ``parameters``) and its device
    (``cuda:N`` or ``cpu``), from Triton's ``initialize`` arguments.

    Raises RuntimeError when the numpy this stub imported would make it answer empty outputs.
    """
    problem = stub_numpy_problem(np.__version__)
    if problem is not None:
        raise RuntimeError(problem)
    config = json.loads(args["model_config"])
    params = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
    if int(params.get("torch_threads", "0")) > 0:
        torch.set_num_threads(int(params["torch_threads"]))
    on_gpu = args.get("model_instance_kind") == "GPU"
    device = f"cuda:{args.get('model_instance_device_id', 0)}" if on_gpu else "cpu"
    return params, device
