"""Stacked baseline + layer ridge: the baseline first, then the layer on what it leaves, or nothing.

Why not banded ridge for "what does a layer add to a baseline?"  On the Alice
ROI data (362 scans, 2 baseline + 384 layer columns, 5 outer folds) the
random-search banded ridge switched a layer of pure noise *on* in about a third
of fold x ROI fits and then scored up to 0.10 r below the baseline, with a
bootstrap interval below zero; real layers lost to the baseline in some ROIs
for the same reason (see ``benchmarks/alice_gains_investigation.py``).  The
inner CV picks whichever penalty is lowest by chance, and with a few hundred
samples that chance is large.  Here the layer has to earn its place: its
ridge on the baseline's training residual has "off" (infinite penalty) as a
candidate, and the one-standard-error rule (Hastie, Tibshirani & Friedman,
*Elements of Statistical Learning*, 7.10) picks the most penalised candidate
whose inner-CV error is within ``one_se`` paired standard errors of the best.
"""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError
from ._solvers import default_targets_batch, solve_ridge_cv


def select_one_se(fold_errors: np.ndarray, one_se: float) -> np.ndarray:
    """Chosen candidate per target under the one-standard-error rule.

    Parameters
    ----------
    fold_errors : ndarray (n_inner_folds, n_candidates, n_targets)
        Validation error of every candidate, candidates ordered from the least
        to the most penalised.
    one_se : float
        0 picks the lowest mean error (ties: the more penalised candidate);
        otherwise the most penalised candidate whose mean error exceeds the
        best one's by at most ``one_se`` standard errors of the per-fold
        difference.

    Returns
    -------
    ndarray (n_targets,) of candidate indices.
    """
    mean = fold_errors.mean(0)
    n_cand = mean.shape[0]
    best = n_cand - 1 - np.argmin(mean[::-1], axis=0)
    if one_se <= 0 or fold_errors.shape[0] < 2:
        return best
    cols = np.arange(mean.shape[1])
    diff = fold_errors - fold_errors[:, best, cols][:, None, :]
    se = diff.std(0, ddof=1) / np.sqrt(fold_errors.shape[0])
    ok = diff.mean(0) <= one_se * se + 1e-12 * np.abs(mean[best, cols])
    return n_cand - 1 - np.argmax(ok[::-1], axis=0)


def _ridge_off_cv(X, R, X_test, splits, alphas, one_se, batch):
    """Ridge of ``R`` on ``X`` with alphas + "off" (zero weights) chosen by inner CV and the 1-SE rule.

    Returns (test predictions, chosen alphas with ``inf`` = off).
    """
    n_targets = R.shape[1]
    alphas = np.asarray(alphas, dtype=np.float64)
    decs = []
    for tr, va in splits:
        xm = X[tr].mean(0)
        U, s, Vt = np.linalg.svd(X[tr] - xm, full_matrices=False)
        decs.append((tr, va, U, s, (X[va] - xm) @ Vt.T))
    xm = X.mean(0)
    U_all, s_all, Vt_all = np.linalg.svd(X - xm, full_matrices=False)
    Z_test = (X_test - xm) @ Vt_all.T
    pred = np.zeros((X_test.shape[0], n_targets))
    chosen = np.empty(n_targets)
    grid = np.concatenate([alphas, [np.inf]])
    for start in range(0, n_targets, batch):
        cols = slice(start, min(n_targets, start + batch))
        Rb = R[:, cols]
        errors = np.empty((len(decs), grid.size, Rb.shape[1]))
        for f, (tr, va, U, s, Zv) in enumerate(decs):
            ym = Rb[tr].mean(0)
            UtR = U.T @ (Rb[tr] - ym)
            E = Rb[va] - ym
            for i, a in enumerate(alphas):
                errors[f, i] = ((E - Zv @ ((s / (s ** 2 + a))[:, None] * UtR)) ** 2).mean(0)
            errors[f, -1] = (E ** 2).mean(0)
        pick = select_one_se(errors, one_se)
        chosen[cols] = grid[pick]
        ym = Rb.mean(0)
        UtR = U_all.T @ (Rb - ym)
        for j, i in enumerate(pick):
            if i < alphas.size:
                pred[:, start + j] = Z_test @ ((s_all / (s_all ** 2 + alphas[i])) * UtR[:, j]) + ym[j]
            # off: the baseline's prediction as it is (its intercept already fits the mean)
    return pred, chosen


def stacked_ridge_predict(Xb_train, Xl_train, Y_train, Xb_test, Xl_test, splits, alphas, *, one_se=1.0,
                          n_targets_batch=None, backend=None) -> dict:
    """Baseline ridge, then a layer ridge (or nothing) on the baseline's training residual.

    Parameters
    ----------
    Xb_train, Xl_train : ndarray (n_train, n_baseline), (n_train, n_layer)
        Standardised baseline and layer columns of the training rows.
    Y_train : ndarray (n_train, n_targets)
    Xb_test, Xl_test : ndarray
        The same columns of the rows to predict.
    splits : list of (train, validation) positions into the training rows
        Inner folds, used for both penalties.
    alphas : ndarray
        Candidate penalties; the layer also has "off".
    one_se : float
        Standard errors of slack for the layer's one-standard-error rule
        (0: lowest inner-CV error, as for the baseline).
    n_targets_batch : int or None
    backend : himalaya backend or None
        Used for the baseline's ridge; the layer step runs in numpy.

    Returns
    -------
    dict with ``predictions`` (n_test, n_targets), ``baseline_alphas``,
    ``layer_alphas`` (``inf`` where the layer is off) and ``form``.
    """
    if Xb_train.shape[1] == 0 or Xl_train.shape[1] == 0:
        raise BrainalignInputError("estimator='stacked' needs baseline and layer columns (two bands).")
    n_train = Xb_train.shape[0]
    base = solve_ridge_cv(Xb_train, Y_train, alphas, splits, X_test=np.vstack([Xb_train, Xb_test]),
                          return_weights=False, n_targets_batch=n_targets_batch, backend=backend)
    pb_train, pb_test = base["predictions"][:n_train], base["predictions"][n_train:]
    residual = np.asarray(Y_train, dtype=np.float64) - pb_train
    batch = n_targets_batch or default_targets_batch(n_train, residual.shape[1])
    pl, layer_alphas = _ridge_off_cv(np.asarray(Xl_train, np.float64), residual, np.asarray(Xl_test, np.float64),
                                     splits, alphas, one_se, batch)
    return {"predictions": (pb_test + pl).astype(np.float32), "baseline_alphas": base["best_alphas"],
            "layer_alphas": layer_alphas, "form": "stacked"}
