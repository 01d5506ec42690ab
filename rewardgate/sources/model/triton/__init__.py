"""Serving reward models on NVIDIA Triton Inference Server (python backend)."""

#: Tensor names of the contract between the gateway and the Triton model (docs/triton.md).
INPUT_IDS = "input_ids"
LENGTHS = "lengths"
REWARDS = "rewards"
#: A vision reward model's images: canonical encoded bytes per row, and how many of a row's are real.
IMAGES = "images"
IMAGE_COUNTS = "image_counts"
