"""Where model forward passes run: in-process (local) or remote (Triton, later)."""
