"""Serving reward models on NVIDIA Triton Inference Server (python backend)."""

#: Tensor names of the contract between the gateway and the Triton model (docs/triton.md).
#: Padded: ``input_ids`` [B, T] with ``lengths`` [B, 1] in, ``rewards`` [B, heads] out.
INPUT_IDS = "input_ids"
LENGTHS = "lengths"
REWARDS = "rewards"
#: Packed (no padding on the wire): one request row holding every sequence end to end,
#: ``token_ids`` [1, total] with ``token_lengths`` [1, B] in, ``packed_rewards`` [1, B x heads] out.
PACKED_IDS = "token_ids"
PACKED_LENGTHS = "token_lengths"
PACKED_REWARDS = "packed_rewards"
#: A vision reward model's images: canonical encoded bytes per row, and how many of a row's are real.
IMAGES = "images"
IMAGE_COUNTS = "image_counts"
