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
from ._layered import BaselineThenLayer
from ._solvers import default_targets_batch

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
        self.z_mean = Z_train.mean(0)
        self.U, self.s, self.Vt = np.linalg.svd(Z_train - self.z_mean, full_matrices=False)

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

    def coefficients(self, Y, alphas):
        """Weights on the components (n_components, n_targets) and intercepts of the refit on all rows."""
        ym = Y.mean(0)
        W = self.s[:, None] / (self.s[:, None] ** 2 + alphas[None, :])
        return W * (self.U.T @ (Y - ym)), ym

    def transform(self, Z):
        return (Z - self.z_mean) @ self.Vt.T


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


class GatedPCREncoder(BaselineThenLayer):
    """The baseline's ridge, then ``k`` principal components of the layer on its residual, gated.

    Protocol encoder ("layer given baseline", the default with a baseline):
    the design's FIRST band is the baseline, the other bands the layer.  ``k``
    (0 = no layer among the candidates) and the layer's penalty are chosen per
    target by inner CV, and the layer's prediction is weighted by how clearly
    it beats "no layer" (see the module docstring and :func:`layer_weight`).

    Parameters
    ----------
    alphas : array-like or None
        Candidate penalties of the baseline and of the layer (default ``np.logspace(-1, 7, 17)``).
    inner_cv : int, splitter or sequence of (train, validation) folds
        Inner folds (an int: contiguous blocks within ``groups``, ``gap`` apart).
    n_components : "auto" or list of int
        Candidate numbers of layer components (see :func:`component_candidates`).
    gate_se : float
        Standard errors by which the layer must beat "no layer" before it gets
        any weight (full weight at ``gate_se + 1``).
    n_targets_batch : int or None
    backend : {"auto", "numpy", "cpu", "torch", "torch_cuda"}
        Backend of the baseline's ridge; the layer's candidates run in numpy.

    Attributes
    ----------
    fit_info_ : dict
        ``alphas`` (layer penalty per target, ``inf`` = left out),
        ``baseline_alphas``, ``n_components`` (chosen ``k``, 0 = left out)
        and ``layer_weights`` (the gate's weights, 0-1).

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Band
    >>> rng = np.random.default_rng(0)
    >>> base, layer = rng.normal(size=(400, 2)), rng.normal(size=(400, 50))
    >>> Y = np.column_stack([base @ [1.0, 0.5] + layer[:, :3] @ [1.0, 1.0, 1.0] + rng.normal(size=400),
    ...                      base @ [1.0, 0.5] + rng.normal(size=400)])
    >>> enc = GatedPCREncoder(n_components=[5, 50], backend="numpy")
    >>> enc = enc.fit(np.hstack([base, layer]), Y, bands=(Band("baseline", 2), Band("layer", 50)), gap=5)
    >>> enc.fit_info_["n_components"].tolist()   # the layer helps the first target, not the second
    [50, 0]
    """

    _min_bands = 2

    def __init__(self, alphas=None, *, inner_cv=5, n_components="auto", gate_se=1.0, n_targets_batch=None,
                 backend="auto"):
        self.alphas = alphas
        self.inner_cv = inner_cv
        self.n_components = n_components
        self.gate_se = gate_se
        self.n_targets_batch = n_targets_batch
        self.backend = backend

    def _check_params(self):
        check_options(self.n_components, self.gate_se)

    def _fit_layer(self, Xl_train, residual, splits, alphas, gap):
        n_components = check_options(self.n_components, self.gate_se)
        block = max(gap, 1)  # blocks of the gate's standard error: about the autocorrelation's length
        n_train, n_targets = residual.shape
        alphas = np.asarray(alphas, dtype=np.float64)
        ks = component_candidates(n_train, Xl_train.shape[1], n_components)
        self.layer_mean_ = Xl_train.mean(0)
        _, _, Vt = np.linalg.svd(Xl_train - self.layer_mean_, full_matrices=False)
        self.layer_components_ = Vt[: max(ks)]
        P_train = (Xl_train - self.layer_mean_) @ self.layer_components_.T
        # one scale for all components (the first one's): ridge then shrinks the weak ones most, as it
        # would on the whole layer; whitening them gave noise directions the weight of the main ones
        self.layer_scale_ = P_train[:, 0].std() or 1.0
        candidates = [_Candidate(np.zeros((n_train, 0)), None, splits)]
        candidates += [_Candidate(P_train[:, :k] / self.layer_scale_, None, splits) for k in ks]
        validated = np.unique(np.concatenate([va for _, va in splits]))
        fold_of_row = np.empty(n_train, dtype=int)
        for f, (_, va) in enumerate(splits):
            fold_of_row[va] = f
        fold_of_row = fold_of_row[validated]
        layer_alphas = np.full(n_targets, np.inf)
        layer_weights = np.zeros(n_targets)
        chosen_k = np.zeros(n_targets, dtype=int)
        self.parts_ = []  # (k, target columns, weights, coefficients, intercepts) of every fitted piece
        # every candidate holds its (n_train, batch) float64 validation errors at once, and they are
        # stacked once more: share the usual one-block budget between them
        batch = self.n_targets_batch or max(1, default_targets_batch(n_train, n_targets) // (4 * len(candidates)))
        for start in range(0, n_targets, batch):
            cols = slice(start, min(n_targets, start + batch))
            Rb = residual[:, cols]
            fits = [c.inner_errors(Rb, alphas, n_train) for c in candidates]
            errors = np.stack([e[validated] for _, e in fits])  # (candidates, rows, targets)
            best = np.argmin(errors.mean(1), axis=0)  # ties: the simpler candidate
            idx = np.arange(Rb.shape[1])
            weight = layer_weight(errors[0], errors[best, :, idx].T, fold_of_row, block, self.gate_se)
            pick = np.where(weight > 0, best, 0)
            for c in np.unique(pick[pick > 0]):
                sel = np.flatnonzero(pick == c)
                a = fits[c][0][sel]
                coef, intercept = candidates[c].coefficients(Rb[:, sel], a)
                self.parts_.append((candidates[c], start + sel, weight[sel], coef, intercept))
                layer_alphas[start + sel] = a
            layer_weights[cols] = weight
            chosen_k[cols] = np.asarray([0] + ks)[pick]
        return {"alphas": layer_alphas, "n_components": chosen_k, "layer_weights": layer_weights,
                "candidates": [0] + ks}

    def _combine(self, base, Xl):
        pred = np.array(base, dtype=np.float64)
        P = (Xl - self.layer_mean_) @ self.layer_components_.T
        for candidate, targets, weight, coef, intercept in self.parts_:
            k = candidate.Vt.shape[1]
            pred[:, targets] += weight * (candidate.transform(P[:, :k] / self.layer_scale_) @ coef + intercept)
        return pred.astype(np.float32)


def gated_pcr_predict(Xb_train, Xl_train, Y_train, Xb_test, Xl_test, splits, alphas, *, n_components="auto",
                      gate_se=1.0, block=10, n_targets_batch=None, backend=None) -> dict:
    """Baseline ridge, then k layer principal components on its residual, k (0 = none) by inner CV, gated.

    Functional form of :class:`GatedPCREncoder` with given inner folds and gate block length.

    Parameters
    ----------
    Xb_train, Xl_train : ndarray (n_train, n_baseline), (n_train, n_layer)
        Standardised baseline and layer columns of the training rows.
    Y_train : ndarray (n_train, n_targets)
    Xb_test, Xl_test : ndarray
        The same columns of the rows to predict.
    splits : list of (train, validation) positions into the training rows
    alphas : ndarray
    n_components, gate_se, n_targets_batch
        As for :class:`GatedPCREncoder`.
    block : int
        Validation rows per block of the gate's standard error (the CV gap is a good choice).
    backend : himalaya backend or None

    Returns
    -------
    dict with ``predictions`` (n_test, n_targets), ``baseline_alphas``,
    ``layer_alphas`` (``inf`` where the layer is left out), ``layer_weights``
    (0-1), ``n_components`` (chosen k per target, 0 = no layer),
    ``candidates`` and ``form``.
    """
    from ..core import Band

    if np.shape(Xb_train)[1] == 0 or np.shape(Xl_train)[1] == 0:
        raise BrainalignInputError("estimator='pcr' needs baseline and layer columns (two bands).")
    nb, nl = np.shape(Xb_train)[1], np.shape(Xl_train)[1]
    enc = GatedPCREncoder(alphas, inner_cv=list(splits), n_components=n_components, gate_se=gate_se,
                          n_targets_batch=n_targets_batch, backend=backend.name if backend is not None else "auto")
    enc.fit(np.hstack([Xb_train, Xl_train]), Y_train, bands=(Band("baseline", nb), Band("layer", nl)),
            gap=max(int(block), 1) if int(block) > 1 else 0)
    info = enc.fit_info_
    return {"predictions": enc.predict(np.hstack([Xb_test, Xl_test])), "baseline_alphas": info["baseline_alphas"],
            "layer_alphas": info["alphas"], "layer_weights": info["layer_weights"],
            "n_components": info["n_components"], "candidates": info["candidates"], "form": "pcr"}
