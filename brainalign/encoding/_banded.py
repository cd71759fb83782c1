"""Banded ridge: one penalty per feature space (band), and variance partitioning between bands."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from ..core import BrainalignInputError, DesignMatrix, Recording
from ._backend import using_backend
from ._sklearn_api import Standardizer, _alpha_grid, _check_xy, _estimator_splits, _scaled
from ._stats import correlation_score, r2_score

logger = logging.getLogger("brainalign.encoding")


def _as_bands(Xs) -> list[np.ndarray]:
    if isinstance(Xs, np.ndarray) or not isinstance(Xs, Sequence) or len(Xs) == 0:
        raise BrainalignInputError("Banded ridge takes a list of 2-D arrays, one per band (feature space).")
    bands = []
    for i, X in enumerate(Xs):
        X, _ = _check_xy(X, None, what=f"band {i}")
        bands.append(X)
    n = {X.shape[0] for X in bands}
    if len(n) != 1:
        raise BrainalignInputError(f"All bands must have the same number of samples, got {sorted(n)}.")
    return bands


class BandedRidgeEncoder(RegressorMixin, BaseEstimator):
    """Ridge with one regularisation per band, tuned per target by random search (himalaya).

    Wraps ``himalaya.ridge.GroupRidgeCV`` when samples >= features and
    ``himalaya.kernel_ridge.MultipleKernelRidgeCV`` (precomputed linear
    kernels) otherwise.  Combining e.g. a model layer with baseline regressors
    this way lets the baseline keep its own penalty.

    Parameters
    ----------
    alphas : array-like or None
        Candidate global penalties (default ``np.logspace(-1, 7, 17)``).
    n_iter : int
        Random band weightings tried (Dirichlet samples on the simplex).
    cv : int or sequence of (train, validation) index arrays
        Inner folds (an int gives contiguous blocks).
    fit_intercept, standardize : bool
    backend : {"auto", "numpy", "cpu", "torch", "torch_cuda"}
    solver : {"auto", "primal", "kernel"}
    random_state : int

    Attributes
    ----------
    coef_ : ndarray (n_features_total, n_targets), on standardised columns
    band_slices_ : list of slice
    deltas_ : ndarray (n_bands, n_targets)  log band scalings (himalaya)
    best_alphas_ : ndarray (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(200, 4)), rng.normal(size=(200, 3))
    >>> Y = A @ rng.normal(size=(4, 2)) + 0.1 * rng.normal(size=(200, 2))
    >>> enc = BandedRidgeEncoder(n_iter=5, backend="numpy").fit([A, B], Y)
    >>> enc.predict_bands([A, B]).shape
    (2, 200, 2)
    """

    def __init__(self, alphas=None, *, n_iter=20, cv=5, fit_intercept=True, standardize=True,
                 backend="auto", solver="auto", random_state=0, n_targets_batch=None):
        self.alphas = alphas
        self.n_iter = n_iter
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.backend = backend
        self.solver = solver
        self.random_state = random_state
        self.n_targets_batch = n_targets_batch

    def fit(self, Xs, Y, runs=None, gap: int = 0) -> "BandedRidgeEncoder":
        bands = _as_bands(Xs)
        X = np.hstack(bands)
        X, Y = _check_xy(X, Y)
        sizes = [b.shape[1] for b in bands]
        edges = np.concatenate([[0], np.cumsum(sizes)])
        self.band_slices_ = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        Xs_ = _scaled(X, self.scaler_)
        n, p = Xs_.shape
        splits = _estimator_splits(self.cv, n, runs, gap)
        alphas = _alpha_grid(self.alphas)
        form = self.solver if self.solver != "auto" else ("primal" if n >= p else "kernel")
        if form not in ("primal", "kernel"):
            raise BrainalignInputError(f"solver must be 'auto', 'primal' or 'kernel', got {self.solver!r}.")
        x_mean = Xs_.mean(0) if self.fit_intercept else np.zeros(p, dtype=np.float32)
        y_mean = Y.mean(0) if self.fit_intercept else np.zeros(Y.shape[1])
        Xc = (Xs_ - x_mean).astype(np.float32)
        Yc = (Y - y_mean).astype(np.float32)
        params = {"alphas": alphas, "n_iter": int(self.n_iter), "progress_bar": False}
        if self.n_targets_batch:
            params["n_targets_batch"] = int(self.n_targets_batch)
        with using_backend(self.backend) as backend:
            alphas_b = backend.asarray(alphas, dtype="float32")
            params["alphas"] = alphas_b
            if form == "primal":
                from himalaya.ridge import GroupRidgeCV

                model = GroupRidgeCV(groups="input", solver_params={**params, "warn": False}, cv=splits,
                                     random_state=self.random_state, fit_intercept=False)
                model.fit([backend.asarray(Xc[:, s]) for s in self.band_slices_], backend.asarray(Yc))
                coef = backend.to_numpy(model.coef_)
            else:
                from himalaya.kernel_ridge import MultipleKernelRidgeCV

                Ks = np.stack([Xc[:, s] @ Xc[:, s].T for s in self.band_slices_])
                model = MultipleKernelRidgeCV(kernels="precomputed", solver_params=params, cv=splits,
                                              random_state=self.random_state)
                model.fit(backend.asarray(Ks), backend.asarray(Yc))
                dual = backend.to_numpy(model.dual_coef_)
                scales = np.exp(backend.to_numpy(model.deltas_))
                coef = np.vstack([Xc[:, s].T @ (dual * scales[i]) for i, s in enumerate(self.band_slices_)])
            self.deltas_ = backend.to_numpy(model.deltas_)
            # himalaya: alpha = 1 / sum_i exp(delta_i) for random-search solutions
            self.best_alphas_ = 1.0 / np.exp(self.deltas_).sum(0)
            self.backend_ = backend.name
        self.form_ = form
        self.coef_ = np.asarray(coef, dtype=np.float32)
        self._x_mean = x_mean
        self.intercept_ = (y_mean - x_mean @ self.coef_).astype(np.float32)
        self.n_features_in_ = p
        return self

    def _standardised(self, Xs) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise BrainalignInputError("This BandedRidgeEncoder is not fitted yet; call fit(Xs, Y) first.")
        X = np.hstack(_as_bands(Xs))
        if X.shape[1] != self.n_features_in_:
            raise BrainalignInputError(f"Bands have {X.shape[1]} features in all; fitted on {self.n_features_in_}.")
        return _scaled(X, self.scaler_)

    def predict(self, Xs) -> np.ndarray:
        return self._standardised(Xs) @ self.coef_ + self.intercept_

    def predict_bands(self, Xs) -> np.ndarray:
        """Each band's share of the prediction, (n_bands, n_samples, n_targets); they sum to
        ``predict(Xs) - intercept`` after centring on the training means."""
        X = self._standardised(Xs) - self._x_mean
        return np.stack([X[:, s] @ self.coef_[s] for s in self.band_slices_])

    def score(self, Xs, Y, sample_weight=None) -> np.ndarray:
        """Pearson r per target."""
        _, Y = _check_xy(np.hstack(_as_bands(Xs)), Y)
        return correlation_score(Y, self.predict(Xs))

    def score_bands(self, Xs, Y) -> np.ndarray:
        """Split R^2 per band (n_bands, n_targets): sums to the joint R^2 (himalaya's r2_score_split)."""
        _, Y = _check_xy(np.hstack(_as_bands(Xs)), Y)
        parts = self.predict_bands(Xs)
        Yc = Y - Y.mean(0)
        total = (Yc ** 2).sum(0)
        full = parts.sum(0)
        # split R^2 of band i: (2 <y, p_i> - <p_i, p>) / ||y||^2; sums to 1 - ||y - p||^2 / ||y||^2 minus the
        # intercept mismatch on the test set
        return np.stack([(2 * (Yc * p).sum(0) - (p * full).sum(0)) / total for p in parts])


def variance_partitioning(
    bands: Mapping[str, DesignMatrix],
    recording: Recording,
    **cv_kwargs,
) -> pd.DataFrame:
    """Unique and shared cross-validated R^2 of each band (e.g. a layer vs baseline regressors).

    Fits the joint model and every leave-one-band-out model with
    :func:`cross_validate` (same folds), then per target::

        unique[band] = R2(all bands) - R2(all bands but this one)
        shared       = R2(all bands) - sum(unique)

    Parameters
    ----------
    bands : mapping of band name to DesignMatrix (same grid), at least two
    recording : Recording
    **cv_kwargs
        Passed to :func:`cross_validate`.

    Returns
    -------
    DataFrame indexed by target with columns ``joint``, ``unique:<band>`` ...,
    ``shared`` (fold-averaged R^2).
    """
    from ._crossval import as_design, cross_validate

    if len(bands) < 2:
        raise BrainalignInputError("variance_partitioning needs at least two bands.")
    designs = {name: as_design(d, recording) for name, d in bands.items()}
    names = list(designs)
    joint = cross_validate(DesignMatrix.stack([designs[n] for n in names], name="joint"), recording, **cv_kwargs)
    table = pd.DataFrame({"joint": joint.mean_r2}, index=pd.Index(joint.target_names, name="target"))
    unique_sum = np.zeros(recording.n_targets)
    for name in names:
        rest = [designs[n] for n in names if n != name]
        without = cross_validate(DesignMatrix.stack(rest, name=f"without:{name}"), recording, **cv_kwargs)
        unique = joint.mean_r2 - without.mean_r2
        table[f"unique:{name}"] = unique
        unique_sum += unique
    table["shared"] = joint.mean_r2 - unique_sum
    return table


__all__ = ["BandedRidgeEncoder", "variance_partitioning", "r2_score"]
