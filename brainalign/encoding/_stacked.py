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
from ._layered import BaselineThenLayer
from ._solvers import default_targets_batch


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


class _RidgeOff:
    """Ridge of ``R`` on ``X`` with alphas + "off" (zero weights) chosen by inner CV and the 1-SE rule."""

    def fit(self, X, R, splits, alphas, one_se, batch):
        n_targets = R.shape[1]
        alphas = np.asarray(alphas, dtype=np.float64)
        decs = []
        for tr, va in splits:
            xm = X[tr].mean(0)
            U, s, Vt = np.linalg.svd(X[tr] - xm, full_matrices=False)
            decs.append((tr, va, U, s, (X[va] - xm) @ Vt.T))
        self.x_mean = X.mean(0)
        U_all, s_all, self.Vt = np.linalg.svd(X - self.x_mean, full_matrices=False)
        self.coefs = np.zeros((n_targets, s_all.size))  # one row per target: weights on the components
        self.y_mean = np.zeros(n_targets)
        self.on = np.zeros(n_targets, dtype=bool)
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
                    self.coefs[start + j] = (s_all / (s_all ** 2 + alphas[i])) * UtR[:, j]
                    self.y_mean[start + j] = ym[j]
                    self.on[start + j] = True
                # off: the baseline's prediction as it is (its intercept already fits the mean)
        return chosen

    def predict(self, X_test):
        Z_test = (X_test - self.x_mean) @ self.Vt.T
        pred = np.zeros((X_test.shape[0], self.coefs.shape[0]))
        for j in np.flatnonzero(self.on):
            pred[:, j] = Z_test @ self.coefs[j] + self.y_mean[j]
        return pred


class StackedEncoder(BaselineThenLayer):
    """The baseline's ridge first, then the layer's ridge on its training residual, or nothing (1-SE rule).

    Protocol encoder ("layer given baseline"): the design's FIRST band is the
    baseline, the other bands the layer.  The layer's penalty has "off"
    (infinite) among its candidates and is the most penalised one whose
    inner-CV error is within ``one_se`` paired standard errors of the best.

    Parameters
    ----------
    alphas : array-like or None
        Candidate penalties of the baseline and of the layer (default ``np.logspace(-1, 7, 17)``).
    inner_cv : int, splitter or sequence of (train, validation) folds
        Inner folds (an int: contiguous blocks within ``groups``, ``gap`` apart).
    one_se : float
        Standard errors of slack of the layer's one-standard-error rule (0: lowest inner-CV error).
    n_targets_batch : int or None
    backend : {"auto", "numpy", "cpu", "torch", "torch_cuda"}
        Backend of the baseline's ridge; the layer step runs in numpy.

    Attributes
    ----------
    fit_info_ : dict
        ``alphas`` (the layer's penalty per target, ``inf`` = off) and ``baseline_alphas``.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Band
    >>> rng = np.random.default_rng(0)
    >>> base, layer = rng.normal(size=(300, 2)), rng.normal(size=(300, 20))
    >>> Y = np.column_stack([base @ [1.0, 1.0] + layer[:, 0] + rng.normal(size=300),
    ...                      base @ [1.0, 1.0] + rng.normal(size=300)])
    >>> enc = StackedEncoder(backend="numpy").fit(np.hstack([base, layer]), Y,
    ...                                            bands=(Band("baseline", 2), Band("layer", 20)))
    >>> np.isinf(enc.fit_info_["alphas"]).tolist()   # the layer helps the first target only
    [False, True]
    """

    _min_bands = 2

    def __init__(self, alphas=None, *, inner_cv=5, one_se=1.0, n_targets_batch=None, backend="auto"):
        self.alphas = alphas
        self.inner_cv = inner_cv
        self.one_se = one_se
        self.n_targets_batch = n_targets_batch
        self.backend = backend

    def _check_params(self):
        if isinstance(self.one_se, bool) or not isinstance(self.one_se, (int, float, np.integer, np.floating)) or not (
                np.isfinite(self.one_se) and self.one_se >= 0):
            raise BrainalignInputError(f"one_se must be a number of standard errors >= 0, got {self.one_se!r}.")

    def _fit_layer(self, Xl, residual, splits, alphas, gap):
        batch = self.n_targets_batch or default_targets_batch(Xl.shape[0], residual.shape[1])
        self.layer_ = _RidgeOff()
        chosen = self.layer_.fit(Xl, residual, splits, alphas, float(self.one_se), batch)
        return {"alphas": chosen}

    def _combine(self, base, Xl):
        return (base + self.layer_.predict(Xl)).astype(np.float32)


def stacked_ridge_predict(Xb_train, Xl_train, Y_train, Xb_test, Xl_test, splits, alphas, *, one_se=1.0,
                          n_targets_batch=None, backend=None) -> dict:
    """Baseline ridge, then a layer ridge (or nothing) on the baseline's training residual.

    Functional form of :class:`StackedEncoder` with given inner folds.

    Returns
    -------
    dict with ``predictions`` (n_test, n_targets), ``baseline_alphas``,
    ``layer_alphas`` (``inf`` where the layer is off) and ``form``.
    """
    from ..core import Band

    if np.shape(Xb_train)[1] == 0 or np.shape(Xl_train)[1] == 0:
        raise BrainalignInputError("estimator='stacked' needs baseline and layer columns (two bands).")
    nb, nl = np.shape(Xb_train)[1], np.shape(Xl_train)[1]
    enc = StackedEncoder(alphas, inner_cv=list(splits), one_se=one_se, n_targets_batch=n_targets_batch,
                         backend=backend.name if backend is not None else "auto")
    enc.fit(np.hstack([Xb_train, Xl_train]), Y_train, bands=(Band("baseline", nb), Band("layer", nl)))
    return {"predictions": enc.predict(np.hstack([Xb_test, Xl_test])),
            "baseline_alphas": enc.fit_info_["baseline_alphas"], "layer_alphas": enc.fit_info_["alphas"],
            "form": "stacked"}
