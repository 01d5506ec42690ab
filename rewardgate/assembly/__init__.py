"""Wiring: builds the core's objects from settings and a pipeline file, outside any web framework."""

from rewardgate.assembly.build import build_cache, build_core, image_policy

__all__ = ["build_cache", "build_core", "image_policy"]
