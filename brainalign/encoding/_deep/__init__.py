"""Trainable encoders beside ridge: a multimodal temporal transformer (TRIBE-style, across subjects),
attention and factorized readouts of spatial tokens, softmax-weighted ensembles."""

from .compare import compare_encoders, compare_fold_scores, write_model_comparison
from .ensemble import SoftmaxEnsembleEncoder, cross_validate_subjects
from .readout import AttentionReadoutEncoder, FactorizedReadoutEncoder
from .temporal import TemporalTransformerEncoder
from .training import TorchDevice, inner_validation_split

__all__ = [
    "AttentionReadoutEncoder",
    "FactorizedReadoutEncoder",
    "SoftmaxEnsembleEncoder",
    "TemporalTransformerEncoder",
    "TorchDevice",
    "compare_encoders",
    "compare_fold_scores",
    "cross_validate_subjects",
    "inner_validation_split",
    "write_model_comparison",
]
