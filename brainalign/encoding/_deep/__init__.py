"""Trainable encoders beside ridge: a multimodal temporal transformer (TRIBE-style, across subjects),
attention and factorized readouts of spatial tokens, softmax-weighted ensembles."""

from .temporal import TemporalTransformer, TemporalTransformerEncoder
from .training import TorchDevice, inner_validation_split

__all__ = ["TemporalTransformer", "TemporalTransformerEncoder", "TorchDevice", "inner_validation_split"]
