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

__version__ = "0.1.0"

__all__ = [
    "BrainalignInputError",
    "DesignMatrix",
    "EncodingResult",
    "FeatureSet",
    "Recording",
    "Timeline",
    "__version__",
]
