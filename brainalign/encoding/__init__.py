"""Cross-validated encoding models: ridge per target, layer sweeps, baselines, ceilings, statistics.

The main entry points are :func:`cross_validate` (one design, one recording,
scored fold by fold, with any registered or user-written estimator) and
:func:`sweep_layers` (every layer of a model, with baselines side by side,
written to a resumable results folder), both built on the encoding cell
(:mod:`brainalign.encoding.cell`).
"""

from ._banded import BandedRidgeEncoder
from ._baselines import autocorrelation_baseline
from ._compare import (
    compare_models,
    composite_sites,
    cross_validate_models,
    save_comparison,
    winners_per_region,
)
from ._ceilings import explainable_variance, intersubject_ceiling, normalize_scores
from ._crossval import cross_validate, default_gap_s, with_baseline
from ._cv import ContiguousBlockCV, LeaveOneRunOut, ShuffledKFold
from ._deep import (
    AttentionReadoutEncoder,
    FactorizedReadoutEncoder,
    SoftmaxEnsembleEncoder,
    TemporalTransformerEncoder,
    compare_encoders,
    compare_fold_scores,
    cross_validate_subjects,
    write_model_comparison,
)
from ._gain import gain_over_baseline_test, gain_sensitivity
from ._layered import BaselineThenLayer
from ._multimodal import MultimodalResult, fit_multimodal
from ._partition import variance_partitioning
from ._pcr import GatedPCREncoder
from ._registry import (
    DEFAULT_BASELINE_ESTIMATOR,
    estimator_class,
    estimator_name,
    estimator_options,
    estimator_options_model,
    list_estimators,
    make_estimator,
    register_estimator,
)
from ._options import common_encoding_options, encoding_option_models, encoding_options
from ._stacked import StackedEncoder
from ._sklearn_api import RidgeEncoder, alphas_from_text, default_alphas
from ._stats import (
    bootstrap_best_layer_ci,
    correlation_score,
    fdr,
    permutation_pvalues,
    r2_score,
)
from ._layer_sweep import LayerSweep, layer_dirname
from ._sweep import sweep_layers
from .cell import BaselineFits, assemble_sweep, fit_baselines, fit_layer, gain_test

__all__ = [
    "common_encoding_options",
    "encoding_option_models",
    "encoding_options",
    "DEFAULT_BASELINE_ESTIMATOR",
    "AttentionReadoutEncoder",
    "FactorizedReadoutEncoder",
    "SoftmaxEnsembleEncoder",
    "TemporalTransformerEncoder",
    "compare_encoders",
    "compare_fold_scores",
    "cross_validate_subjects",
    "write_model_comparison",
    "BandedRidgeEncoder",
    "BaselineThenLayer",
    "GatedPCREncoder",
    "StackedEncoder",
    "estimator_class",
    "estimator_name",
    "estimator_options",
    "estimator_options_model",
    "list_estimators",
    "make_estimator",
    "register_estimator",
    "with_baseline",
    "ContiguousBlockCV",
    "LayerSweep",
    "LeaveOneRunOut",
    "MultimodalResult",
    "RidgeEncoder",
    "ShuffledKFold",
    "alphas_from_text",
    "autocorrelation_baseline",
    "bootstrap_best_layer_ci",
    "compare_models",
    "composite_sites",
    "correlation_score",
    "cross_validate",
    "cross_validate_models",
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
    "save_comparison",
    "sweep_layers",
    "BaselineFits",
    "assemble_sweep",
    "fit_baselines",
    "fit_layer",
    "gain_test",
    "layer_dirname",
    "variance_partitioning",
    "winners_per_region",
]
