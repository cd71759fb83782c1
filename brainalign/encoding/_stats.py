"""Per-fold scores, permutation p-values, FDR and bootstrap intervals."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import BrainalignInputError
from ..core.validation import as_float_array


def _paired(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Observed and predicted values as float64 arrays of one shape with at least two samples."""
    y_true = as_float_array(y_true, "y_true")
    y_pred = as_float_array(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise BrainalignInputError(f"Shapes differ: y_true {y_true.shape} vs y_pred {y_pred.shape}.")
    if y_true.ndim not in (1, 2) or y_true.shape[0] < 2:
        raise BrainalignInputError(
            f"Scores need (n_samples,) or (n_samples, n_targets) arrays with at least 2 samples, got shape "
            f"{y_true.shape}."
        )
    return y_true, y_pred


def correlation_score(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pearson r per column (0 where either column is constant).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0], [2.0], [3.0]])
    >>> correlation_score(y, 2 * y + 1)
    array([1.])
    """
    y_true, y_pred = _paired(y_true, y_pred)
    a = y_true - y_true.mean(0)
    b = y_pred - y_pred.mean(0)
    denom = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(0) / denom
    return np.where(denom > 0, r, 0.0)


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column, relative to the test set's own mean."""
    y_true, y_pred = _paired(y_true, y_pred)
    ss_res = ((y_true - y_pred) ** 2).sum(0)
    ss_tot = ((y_true - y_true.mean(0)) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, 0.0)


def circular_shift_null(y_true: np.ndarray, y_pred: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Correlations of ``y_true`` with ``y_pred`` circularly shifted by each of ``shifts``.

    Returns an array of shape (n_shifts, n_targets).  Shifting keeps the
    prediction's autocorrelation, so the null accounts for slow signals.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    a = y_true - y_true.mean(0)
    a /= np.maximum(np.sqrt((a * a).sum(0)), 1e-300)
    b = np.asarray(y_pred, dtype=np.float64)
    b = b - b.mean(0)
    b /= np.maximum(np.sqrt((b * b).sum(0)), 1e-300)
    out = np.empty((len(shifts), y_true.shape[1]))
    for i, s in enumerate(shifts):
        out[i] = (a * np.roll(b, int(s), axis=0)).sum(0)
    return out


def draw_shifts(n_test: int, n_permutations: int, min_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Random circular shifts at least ``min_shift`` samples away from zero (both directions)."""
    min_shift = int(max(1, min(min_shift, n_test // 4)))
    high = n_test - min_shift
    if high <= min_shift:
        raise BrainalignInputError(f"Test fold of {n_test} samples is too short for circular-shift permutations.")
    return rng.integers(min_shift, high + 1, size=n_permutations)


def permutation_pvalues(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided p-values ``(1 + #{null >= observed}) / (1 + n_permutations)`` per target.

    Parameters
    ----------
    observed : ndarray, shape (n_targets,)
    null : ndarray, shape (n_permutations, n_targets)
    """
    observed = as_float_array(observed, "observed")
    null = as_float_array(null, "null")
    if observed.ndim != 1:
        raise BrainalignInputError(f"observed must be 1-D (n_targets,), got shape {observed.shape}.")
    if null.ndim != 2 or null.shape[1] != observed.shape[0]:
        raise BrainalignInputError(f"null must have shape (n_permutations, {observed.shape[0]}), got {null.shape}.")
    if null.shape[0] == 0:
        raise BrainalignInputError("null has no permutations; p-values need at least one.")
    return (1.0 + (null >= observed[None, :]).sum(0)) / (1.0 + null.shape[0])


def fdr(p_values: np.ndarray, alpha: float | None = None) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (or a boolean rejection mask when ``alpha`` is given).

    Examples
    --------
    >>> fdr([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    from scipy.stats import false_discovery_control

    p = as_float_array(p_values, "p_values")
    if alpha is not None and (isinstance(alpha, (bool, str)) or not isinstance(alpha, (int, float, np.number))
                              or not 0 < alpha < 1):
        raise BrainalignInputError(f"alpha (the false discovery rate) must be in (0, 1), got {alpha!r}.")
    if p.size == 0:
        return p
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise BrainalignInputError("p-values must be finite numbers in [0, 1].")
    adjusted = false_discovery_control(p, method="bh")
    return adjusted <= alpha if alpha is not None else adjusted


def bootstrap_best_layer_ci(
    score_matrix: np.ndarray,
    fold_scores: Sequence[np.ndarray] | None = None,
    *,
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Bootstrap confidence interval of the best layer (index) over targets.

    Resamples targets (e.g. voxels of an ROI, or participants' ROI scores) with
    replacement and recomputes the layer with the highest mean score.  With
    ``fold_scores`` (one (n_folds, n_targets) array per layer) folds are
    resampled as well.

    Parameters
    ----------
    score_matrix : ndarray, shape (n_layers, n_targets)

    Returns
    -------
    dict with ``best`` (index on the full data), ``low``/``high`` (interval of
    the index), ``distribution`` (n_bootstraps,) and ``peak_score_ci``.
    """
    S = as_float_array(score_matrix, "score_matrix")
    if S.ndim != 2 or S.shape[0] < 1 or S.shape[1] < 1:
        raise BrainalignInputError(f"score_matrix must be (n_layers, n_targets), got shape {S.shape}.")
    if isinstance(n_bootstraps, bool) or not isinstance(n_bootstraps, (int, np.integer)) or n_bootstraps < 1:
        raise BrainalignInputError(f"n_bootstraps must be a positive int, got {n_bootstraps!r}.")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.number)) or not 0 < confidence < 1:
        raise BrainalignInputError(f"confidence must be in (0, 1), got {confidence!r}.")
    rng = np.random.default_rng(seed)
    n_layers, n_targets = S.shape
    best_idx = np.empty(n_bootstraps, dtype=int)
    peak = np.empty(n_bootstraps)
    F = None if fold_scores is None else [np.asarray(f) for f in fold_scores]
    for i in range(n_bootstraps):
        cols = rng.integers(0, n_targets, n_targets)
        if F is not None:
            rows = rng.integers(0, F[0].shape[0], F[0].shape[0])
            profile = np.array([f[rows][:, cols].mean() for f in F])
        else:
            profile = S[:, cols].mean(1)
        best_idx[i] = int(np.argmax(profile))
        peak[i] = profile.max()
    q = (1 - confidence) / 2
    return {
        "best": int(np.argmax(S.mean(1))),
        "low": float(np.quantile(best_idx, q)),
        "high": float(np.quantile(best_idx, 1 - q)),
        "distribution": best_idx,
        "peak_score_ci": (float(np.quantile(peak, q)), float(np.quantile(peak, 1 - q))),
        "confidence": confidence,
    }
