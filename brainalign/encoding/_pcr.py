"""Gated principal-component regression: what does a layer add to a baseline?

In each outer fold the baseline is fitted by ridge; the layer's top ``k``
principal components (fitted on the training rows only) are then fitted by
ridge to the baseline's training residual.  ``k`` and the layer's penalty are
chosen per target by inner CV among a few candidates *and* ``k = 0``, no
layer.  The layer's prediction is then weighted by how clearly its inner-CV
error beats "no layer": not at all up to ``gate_se`` (1) standard errors of
the paired difference, fully from ``gate_se + 1`` on, linearly in between.
The standard error is the larger of two estimates: over contiguous blocks of
validation rows (about the CV gap long; ~30 blocks on 300 rows, so it is
stable) and over the inner folds (slow drifts a spurious fit can ride on).
Where the layer is left out the prediction is the baseline's own, so the
gain is exactly 0.

Why (``benchmarks/alice_gains_investigation.py`` and
``benchmarks/alice_gains_splits.py``, Alice ROI data: 362 scans, 2 baseline
+ 384 layer columns, 5 outer folds):

* a ridge over all 384 layer columns, banded or stacked on the baseline's
  residual, has to choose between "layer on" and "layer off" from a noisy
  inner CV; banded ridge switched pure-noise layers on and lost up to 0.1 r to
  the baseline; the one-standard-error rule over 5 inner folds (the standard
  error of a difference estimated from 5 numbers) that stopped this also
  switched the weaker right-ATL effect off;
* a few principal components capture most of what a real layer adds (the
  issue's PCA-10 reference gains in 5 of 6 ROIs) and cost little when a layer
  carries nothing; PCA-10 alone, always on, scores noise layers below the
  baseline;
* fitting the components to the residual, not together with the baseline,
  leaves the baseline's fit as it is: a layer can only add its own shrunken
  prediction, which cut the significant losses of real layers on noisy
  subsets of participants;
* a hard on/off gate turned on the edge of its threshold: on the 13-participant
  group one fold's right-ATL decision (0.9 standard errors) moved the ROI's
  interval across 0; the ramp makes the result a smooth function of the
  evidence.

Candidates for ``k`` (``n_components="auto"``) are 2, 5, 10, 20, 50, 100, ...
up to a tenth of the training rows (at least 10 samples per component), plus
the whole layer when it is that narrow, so a long recording can use hundreds
of components and a short one stays small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core import BrainalignInputError
from ._solvers import default_targets_batch, solve_ridge_cv

#: width, in standard errors, of the gate's ramp from "layer left out" (at gate_se) to "layer used whole"
GATE_RAMP = 1.0
AUTO_COMPONENTS = (2, 5, 10, 20, 50, 100, 200, 500, 1000)


def component_candidates(n_train: int, n_layer: int, n_components="auto") -> list[int]:
    """The numbers of layer components tried (``0``, no layer, is always tried too).

    Parameters
    ----------
    n_train : int
        Training rows of the outer fold.
    n_layer : int
        Columns of the layer.
    n_components : "auto" or sequence of int
        ``"auto"``: :data:`AUTO_COMPONENTS` up to ``n_train // 10``, below the
        layer's width, plus the whole layer when it is at most ``n_train // 10``
        wide (at least one candidate).  A sequence is used as given,
        each capped at the layer's width and at ``n_train - 1``.

    Examples
    --------
    >>> component_candidates(290, 384)
    [2, 5, 10, 20]
    >>> component_candidates(9000, 768)
    [2, 5, 10, 20, 50, 100, 200, 500, 768]
    >>> component_candidates(400, 6)
    [2, 5, 6]
    """
    n_components = check_options(n_components)
    cap = max(1, min(n_layer, n_train - 1))
    if n_components == "auto":
        ks = [k for k in AUTO_COMPONENTS if k <= n_train // 10 and k < n_layer]
        if n_layer <= n_train // 10:
            ks.append(n_layer)  # a narrow layer is also tried whole
        return ks or [min(cap, max(1, n_train // 10))]
    return sorted({min(k, cap) for k in n_components})


def check_options(n_components="auto", gate_se: float = 1.0):
    """``n_components`` as "auto" or a list of ints, after checking both options (clear errors)."""
    if not (isinstance(gate_se, (int, float, np.integer, np.floating)) and not isinstance(gate_se, bool)
            and np.isfinite(gate_se) and gate_se >= 0):
        raise BrainalignInputError(f"gate_se must be a number of standard errors >= 0, got {gate_se!r}.")
    if isinstance(n_components, str) and n_components == "auto":
        return n_components
    if isinstance(n_components, (int, np.integer)) and not isinstance(n_components, bool):
        n_components = [n_components]
    if isinstance(n_components, str) or not isinstance(n_components, Sequence) or not n_components or any(
            isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in n_components):
        raise BrainalignInputError(f"n_components must be 'auto' or a list of ints >= 1, got {n_components!r}.")
    return [int(k) for k in n_components]


class _Candidate:
    """One candidate design (k layer components; none: no layer) decomposed for every inner fold and the fit."""

    def __init__(self, Z_train, Z_test, splits):
        self.folds = []
        for tr, va in splits:
            zm = Z_train[tr].mean(0)
            U, s, Vt = np.linalg.svd(Z_train[tr] - zm, full_matrices=False)
            self.folds.append((tr, va, U, s, (Z_train[va] - zm) @ Vt.T))
        zm = Z_train.mean(0)
        self.U, self.s, Vt = np.linalg.svd(Z_train - zm, full_matrices=False)
        self.Z_test = (Z_test - zm) @ Vt.T

    def inner_errors(self, Y, alphas, n_train):
        """Chosen alpha per target (lowest summed validation error; ties: the larger) and the
        per-row squared validation errors at that alpha (rows never validated stay 0)."""
        sse = np.zeros((alphas.size, Y.shape[1]))
        if not self.folds or self.folds[0][3].size == 0:  # no columns: the mean of the training rows
            errors = np.zeros((n_train, Y.shape[1]))
            for tr, va, *_ in self.folds:
                errors[va] = (Y[va] - Y[tr].mean(0)) ** 2
            return np.full(Y.shape[1], np.inf), errors
        projected = []  # per fold: the centred validation targets and the projected training targets
        for tr, va, U, s, Zv in self.folds:
            ym = Y[tr].mean(0)
            UtY = U.T @ (Y[tr] - ym)
            E = Y[va] - ym
            projected.append((E, UtY))
            for i, a in enumerate(alphas):
                sse[i] += ((E - Zv @ ((s / (s ** 2 + a))[:, None] * UtY)) ** 2).sum(0)
        pick = alphas.size - 1 - np.argmin(sse[::-1], axis=0)
        chosen = alphas[pick]
        errors = np.zeros((n_train, Y.shape[1]))
        for (tr, va, U, s, Zv), (E, UtY) in zip(self.folds, projected):
            W = s[:, None] / (s[:, None] ** 2 + chosen[None, :])
            errors[va] = (E - Zv @ (W * UtY)) ** 2
        return chosen, errors

    def predict(self, Y, alphas):
        if self.Z_test.shape[1] == 0:
            return np.broadcast_to(Y.mean(0), (self.Z_test.shape[0], Y.shape[1])).copy()
        ym = Y.mean(0)
        W = self.s[:, None] / (self.s[:, None] ** 2 + alphas[None, :])
        return self.Z_test @ (W * (self.U.T @ (Y - ym))) + ym


def layer_weight(errors_base: np.ndarray, errors_best: np.ndarray, fold_of_row: np.ndarray, block: int,
                 gate_se: float, ramp: float = GATE_RAMP) -> np.ndarray:
    """Weight in [0, 1] of the layer's prediction, from how clearly it beats "no layer" in the inner CV.

    ``errors_*``: squared validation errors (n_rows, n_targets) in time order;
    ``fold_of_row``: the inner fold of each row.  The evidence is the mean
    paired difference over all rows divided by its standard error, the larger
    of two: over the means of ``block`` consecutive rows (stable: ~30 blocks
    on 300 rows) and over the inner folds' means (slower drifts, which a
    spurious fit can ride within one fold's training data).  The weight is 0
    up to ``gate_se`` standard errors (1: the one-standard-error rule), 1
    from ``gate_se + ramp`` on, and linear in between, so a decision on the
    edge neither throws a real gain away nor takes a spurious layer in whole.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base = 1 + rng.normal(scale=0.1, size=(300, 2))
    >>> best = base - [0.05, -0.01] + rng.normal(scale=0.05, size=(300, 2))  # a clear gain, a loss
    >>> layer_weight(base, best, np.repeat(np.arange(5), 60), 10, 1.0).round(2).tolist()
    [1.0, 0.0]
    """
    diff = errors_base - errors_best
    n = diff.shape[0]
    block = max(1, int(block))
    if n // block < 2:
        block = 1
    n_blocks = n // block
    means = diff[: n_blocks * block].reshape(n_blocks, block, -1).mean(1)
    se = means.std(0, ddof=1) / np.sqrt(n_blocks)
    folds = np.unique(fold_of_row)
    if folds.size >= 2:
        fold_means = np.stack([diff[fold_of_row == f].mean(0) for f in folds])
        se = np.maximum(se, fold_means.std(0, ddof=1) / np.sqrt(folds.size))
    gain = diff.mean(0)
    floor = 1e-12 * np.abs(errors_best).mean(0)  # a difference without spread is not noise
    evidence = np.where(gain > floor, gain / np.maximum(se, floor + 1e-300), 0.0)
    if ramp <= 0:
        return (evidence > gate_se).astype(float)
    return np.clip((evidence - gate_se) / ramp, 0.0, 1.0)


def gated_pcr_predict(Xb_train, Xl_train, Y_train, Xb_test, Xl_test, splits, alphas, *, n_components="auto",
                      gate_se=1.0, block=10, n_targets_batch=None, backend=None) -> dict:
    """Baseline ridge, then k layer principal components on its residual, k (0 = none) by inner CV, gated.

    Parameters
    ----------
    Xb_train, Xl_train : ndarray (n_train, n_baseline), (n_train, n_layer)
        Standardised baseline and layer columns of the training rows.
    Y_train : ndarray (n_train, n_targets)
    Xb_test, Xl_test : ndarray
        The same columns of the rows to predict.
    splits : list of (train, validation) positions into the training rows
        Inner folds; their validation rows, in time order, give the blocks of
        the gate's standard error.
    alphas : ndarray
        Candidate penalties of the baseline and of the layer (chosen per
        target, and per candidate ``k``, by inner CV).
    n_components : "auto" or sequence of int
        See :func:`component_candidates`.
    gate_se : float
        The layer's prediction gets no weight until its inner-CV error is lower
        than without it by ``gate_se`` standard errors, and its full weight from
        ``gate_se + 1`` on (see :func:`layer_weight`).
    block : int
        Validation rows per block (the CV gap is a good choice: about the
        length of the autocorrelation).
    n_targets_batch : int or None
    backend : himalaya backend or None
        Used for the baseline's fit (the same as a one-band fit of the
        baseline, so a target without the layer has a gain of exactly 0);
        the layer's candidates run in numpy.

    Returns
    -------
    dict with ``predictions`` (n_test, n_targets), ``baseline_alphas``,
    ``layer_alphas`` (``inf`` where the layer is left out), ``layer_weights``
    (0-1), ``n_components`` (chosen k per target, 0 = no layer),
    ``candidates`` and ``form``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> base, layer = rng.normal(size=(n, 2)), rng.normal(size=(n, 50))
    >>> y = base @ [1.0, 0.5] + layer[:, :3] @ [1.0, 1.0, 1.0] + rng.normal(size=n)
    >>> Y = np.column_stack([y, base @ [1.0, 0.5] + rng.normal(size=n)])
    >>> splits = [(np.r_[0:i * 60, (i + 1) * 60:300], np.arange(i * 60, (i + 1) * 60)) for i in range(5)]
    >>> out = gated_pcr_predict(base[:300], layer[:300], Y[:300], base[300:], layer[300:], splits,
    ...                         np.logspace(-1, 4, 11), n_components=[5, 50])
    >>> out["n_components"].tolist()   # the layer helps the first target, not the second
    [50, 0]
    """
    if np.shape(Xb_train)[1] == 0 or np.shape(Xl_train)[1] == 0:
        raise BrainalignInputError("estimator='pcr' needs baseline and layer columns (two bands).")
    check_options(n_components, gate_se)
    # the baseline exactly as a one-band fit computes it: a target without the layer scores the
    # baseline's own r, not a number that differs from it in the 8th decimal
    n_train = np.shape(Xb_train)[0]
    base = solve_ridge_cv(Xb_train, Y_train, alphas, splits, X_test=np.vstack([Xb_train, Xb_test]),
                          return_weights=False, n_targets_batch=n_targets_batch, backend=backend)
    base_train, base_test = base["predictions"][:n_train], base["predictions"][n_train:]
    Xl_train, Xl_test = np.asarray(Xl_train, np.float64), np.asarray(Xl_test, np.float64)
    residual = np.asarray(Y_train, np.float64) - base_train
    alphas = np.asarray(alphas, dtype=np.float64)
    n_targets = residual.shape[1]
    ks = component_candidates(n_train, Xl_train.shape[1], n_components)
    mean = Xl_train.mean(0)
    _, _, Vt = np.linalg.svd(Xl_train - mean, full_matrices=False)
    P_train, P_test = (Xl_train - mean) @ Vt[: max(ks)].T, (Xl_test - mean) @ Vt[: max(ks)].T
    # one scale for all components (the first one's): ridge then shrinks the weak ones most, as it
    # would on the whole layer; whitening them gave noise directions the weight of the main ones
    scale = P_train[:, 0].std() or 1.0
    candidates = [_Candidate(np.zeros((n_train, 0)), np.zeros((P_test.shape[0], 0)), splits)]
    candidates += [_Candidate(P_train[:, :k] / scale, P_test[:, :k] / scale, splits) for k in ks]
    validated = np.unique(np.concatenate([va for _, va in splits]))
    fold_of_row = np.empty(n_train, dtype=int)
    for f, (_, va) in enumerate(splits):
        fold_of_row[va] = f
    fold_of_row = fold_of_row[validated]
    pred = np.array(base_test, dtype=np.float64)
    layer_alphas = np.full(n_targets, np.inf)
    layer_weights = np.zeros(n_targets)
    chosen_k = np.zeros(n_targets, dtype=int)
    # every candidate holds its (n_train, batch) float64 validation errors at once, and they are
    # stacked once more: share the usual one-block budget between them
    batch = n_targets_batch or max(1, default_targets_batch(n_train, n_targets) // (4 * len(candidates)))
    for start in range(0, n_targets, batch):
        cols = slice(start, min(n_targets, start + batch))
        Rb = residual[:, cols]
        fits = [c.inner_errors(Rb, alphas, n_train) for c in candidates]
        errors = np.stack([e[validated] for _, e in fits])  # (candidates, rows, targets)
        best = np.argmin(errors.mean(1), axis=0)  # ties: the simpler candidate
        idx = np.arange(Rb.shape[1])
        weight = layer_weight(errors[0], errors[best, :, idx].T, fold_of_row, block, gate_se)
        pick = np.where(weight > 0, best, 0)
        for c in np.unique(pick[pick > 0]):
            sel = np.flatnonzero(pick == c)
            a = fits[c][0][sel]
            pred[:, start + sel] += weight[sel] * candidates[c].predict(Rb[:, sel], a)
            layer_alphas[start + sel] = a
        layer_weights[cols] = weight
        chosen_k[cols] = np.asarray([0] + ks)[pick]
    return {"predictions": pred.astype(np.float32), "baseline_alphas": base["best_alphas"],
            "layer_alphas": layer_alphas, "layer_weights": layer_weights, "n_components": chosen_k, "candidates": [0] + ks, "form": "pcr"}
