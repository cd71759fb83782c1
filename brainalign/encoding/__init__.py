"""Cross-validated encoding models: ridge per target, layer sweeps, baselines, ceilings, statistics.

The main entry points are :func:`cross_validate` (one design, one recording,
scored fold by fold) and :func:`sweep_layers` (every layer of a model, with
baselines side by side, written to a resumable results folder).
"""

from ._banded import BandedRidgeEncoder, variance_partitioning
from ._baselines import autocorrelation_baseline
from ._ceilings import explainable_variance, intersubject_ceiling, normalize_scores
from ._crossval import cross_validate, default_gap_s
from ._cv import ContiguousBlockCV, LeaveOneRunOut, ShuffledKFold
from ._gain import gain_over_baseline_test, gain_sensitivity
from ._multimodal import MultimodalResult, fit_multimodal
from ._sklearn_api import RidgeEncoder, default_alphas
from ._stats import (
    bootstrap_best_layer_ci,
    correlation_score,
    fdr,
    permutation_pvalues,
    r2_score,
)
from ._sweep import LayerSweep, sweep_layers

__all__ = [
    "BandedRidgeEncoder",
    "ContiguousBlockCV",
    "LayerSweep",
    "LeaveOneRunOut",
    "MultimodalResult",
    "RidgeEncoder",
    "ShuffledKFold",
    "autocorrelation_baseline",
    "bootstrap_best_layer_ci",
    "correlation_score",
    "cross_validate",
    "default_alphas",
    "default_gap_s",
    "explainable_variance",
    "fdr",
    "fit_multimodal",
    "gain_over_baseline_test",
    "gain_sensitivity",
    "intersubject_ceiling",
    "normalize_scores",
    "permutation_pvalues",
    "r2_score",
    "sweep_layers",
    "variance_partitioning",
]
