"""Representational similarity: RSA (on rsatoolbox), CKA, shape metrics and identification accuracy.

A stage beside :mod:`brainalign.encoding`, on the same inputs (patterns as
arrays or :class:`~brainalign.Recording`, model layers as
:class:`~brainalign.FeatureSet`, M/EEG epochs):

- RDMs: :func:`compute_rdm` (Euclidean, correlation, cross-validated
  Mahalanobis ...), :func:`layer_rdms`, :func:`roi_rdms`,
  :func:`searchlight_rdms`, :func:`time_resolved_rdms`.
- RSA: :func:`compare_rdms`, :func:`evaluate_models` (bootstrap over stimuli
  and/or subjects, noise ceiling), :func:`layer_roi_profile`,
  :func:`time_resolved_rsa`, :func:`searchlight_map`, :func:`split_half_ceiling`.
- :func:`cka` (linear / RBF, debiased HSIC), :func:`angular_shape_distance`,
  :func:`procrustes_distance`, with bootstrap intervals (``*_with_ci``).
- :func:`two_vs_two`, :func:`top_k_accuracy`, :func:`identification_scores`
  from cross-validated encoding predictions.

Every ``*_with_ci`` / table function resamples stimuli in whole groups (runs,
blocks) when ``groups`` / ``pattern_groups`` are given.
"""

from ._cka import cka, cka_with_ci
from ._identification import identification_scores, top_k_accuracy, two_vs_two
from ._options import RSAOptions
from ._rdm import compute_rdm, layer_rdms, pattern_dataset, roi_rdms, searchlight_rdms, time_resolved_rdms
from ._rsa import (
    compare_rdms,
    evaluate_models,
    layer_roi_profile,
    searchlight_map,
    split_half_ceiling,
    time_resolved_rsa,
)
from ._shape import angular_shape_distance, procrustes_distance, shape_distance_with_ci

__all__ = [
    "angular_shape_distance",
    "cka",
    "cka_with_ci",
    "compare_rdms",
    "compute_rdm",
    "evaluate_models",
    "identification_scores",
    "layer_rdms",
    "layer_roi_profile",
    "pattern_dataset",
    "RSAOptions",
    "procrustes_distance",
    "roi_rdms",
    "searchlight_map",
    "searchlight_rdms",
    "shape_distance_with_ci",
    "split_half_ceiling",
    "time_resolved_rdms",
    "time_resolved_rsa",
    "top_k_accuracy",
    "two_vs_two",
]
