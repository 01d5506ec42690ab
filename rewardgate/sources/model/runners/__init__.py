"""Hugging Face model runners shared by the local backend and the Triton model."""
