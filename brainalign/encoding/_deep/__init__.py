"""Trainable encoders beside ridge: a multimodal temporal transformer (TRIBE-style, across subjects),
attention and factorized readouts of spatial tokens, softmax-weighted ensembles."""

from typing import Union

from .._registry import register_estimator
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

# one registry line per estimator: ``estimator="transformer"`` in cross_validate, sweeps, studies and the CLI
register_estimator("transformer", TemporalTransformerEncoder)
register_estimator("attention-readout", AttentionReadoutEncoder)
register_estimator("factorized-readout", FactorizedReadoutEncoder)
TemporalTransformerEncoder._option_types = {"low_rank": Union[int, None], "band_sizes": Union[list[int], None],
                                            "checkpoint_dir": Union[str, None], "device": str}
AttentionReadoutEncoder._option_types = {"token_grid": Union[list[int], None], "query_groups": Union[list, None],
                                         "checkpoint_dir": Union[str, None], "device": str}
FactorizedReadoutEncoder._option_types = {"token_grid": Union[list[int], None], "checkpoint_dir": Union[str, None],
                                          "device": str}
