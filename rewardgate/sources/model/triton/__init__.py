"""Serving reward models on NVIDIA Triton Inference Server (python backend)."""

#: Tensor names of the contract between the gateway and the Triton model (docs/triton.md).
INPUT_IDS = "input_ids"
LENGTHS = "lengths"
REWARDS = "rewards"
