"""brainalign: how brain-like is this model, and where?

Stimuli -> layerwise model features -> design matrices aligned to a recording
-> cross-validated ridge encoding -> scores per target and layer-to-cortex maps.
"""

from .core import (
    BrainalignInputError,
    DesignMatrix,
    EncodingResult,
    FeatureSet,
    Recording,
    Timeline,
)
from ._logging import set_log_level

__version__ = "0.1.0"

_SUBPACKAGES = (
    "alignment", "core", "datasets", "encoding", "features", "localize", "plotting",
    "recordings", "simulation", "stimuli",
)


def __getattr__(name):
    # subpackages load on first use, so `import brainalign` stays light (no torch)
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'brainalign' has no attribute {name!r}")


__all__ = [
    "BrainalignInputError",
    "DesignMatrix",
    "EncodingResult",
    "FeatureSet",
    "Recording",
    "Timeline",
    "__version__",
    "set_log_level",
]
