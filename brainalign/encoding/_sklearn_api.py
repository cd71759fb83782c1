"""scikit-learn style encoders: ridge with per-target alphas, and banded ridge."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..core import BrainalignInputError
from ..core._validation import as_2d_float, check_finite
from ._backend import using_backend
from ._cv import inner_splits as make_inner_splits
from ._solvers import solve_ridge_cv
from ._stats import correlation_score

logger = logging.getLogger("brainalign.encoding")

DEFAULT_ALPHAS = np.logspace(-1, 7, 17)


def default_alphas() -> np.ndarray:
    """``np.logspace(-1, 7, 17)``: wide enough for standardised designs of 10 to 10 000 columns."""
    return DEFAULT_ALPHAS.copy()


def _alpha_grid(alphas) -> np.ndarray:
    """Candidate penalties as a 1-D float array; ``None`` gives :func:`default_alphas`."""
    return default_alphas() if alphas is None else np.atleast_1d(np.asarray(alphas, dtype=np.float64))


class Standardizer:
    """Column mean / std fitted on training rows only (zero-variance columns keep scale 1)."""

    def __init__(self, with_std: bool = True):
        self.with_std = with_std

    def fit(self, X: np.ndarray) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(0)
        scale = X.std(0) if self.with_std else np.ones(X.shape[1])
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_).astype(np.float32)


def _scaled(X: np.ndarray, scaler: Standardizer | None) -> np.ndarray:
    """``X`` through the fitted scaler (float32), or as float32 when there is none."""
    return scaler.transform(X) if scaler is not None else X.astype(np.float32)


def _estimator_splits(cv, n_samples: int, runs, gap: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner folds of an encoder's ``cv``: an int gives contiguous run-aware blocks; else the given folds."""
    if isinstance(cv, (int, np.integer)):
        runs_arr = np.full(n_samples, "run-1", dtype=object) if runs is None else np.asarray(runs, dtype=object)
        return make_inner_splits(np.arange(n_samples), runs_arr, int(cv), gap)
    return [(np.asarray(tr), np.asarray(va)) for tr, va in cv]


def _check_xy(X, Y, what: str = "X") -> tuple[np.ndarray, np.ndarray]:
    X = as_2d_float(X, what)
    check_finite(X, what)
    if Y is None:
        return X, None
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    Y = as_2d_float(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise BrainalignInputError(
            f"Length mismatch: {what} has {X.shape[0]} samples but Y has {Y.shape[0]}."
        )
    bad = ~np.isfinite(Y).all(axis=0)
    if bad.any():
        raise BrainalignInputError(
            f"Y contains NaN or inf in {bad.sum()} target(s) (first: {np.flatnonzero(bad)[:10].tolist()}); "
            f"remove them before fitting (Recording(..., on_bad_targets='drop') does it with a log entry)."
        )
    return X, Y


class RidgeEncoder(RegressorMixin, BaseEstimator):
    """Ridge regression with one penalty per target, chosen by inner cross-validation.

    One eigendecomposition of the training design per inner fold (and one for
    the refit) is shared by all alphas and targets; primal (features) or
    kernel (samples) form is chosen by shape.  Runs on himalaya's backends.

    Parameters
    ----------
    alphas : array-like or None
        Candidate penalties; ``None`` = ``np.logspace(-1, 7, 17)``.
    cv : int or sequence of (train, validation) index arrays
        Inner folds for choosing alphas: an int gives contiguous blocks
        (time-aware; ``fit(..., runs=, gap=)`` shapes them).
    fit_intercept : bool
    standardize : bool
        Z-score the columns of X with statistics of the training data.
    n_targets_batch : int or None
        Targets processed at once (default bounds memory to ~64 MiB blocks).
    backend : {"auto", "numpy", "cpu", "torch", "torch_cuda"}
        ``"auto"`` = torch_cuda when a GPU is visible, else numpy (float32).
    solver : {"auto", "primal", "kernel", "himalaya"}
        ``"himalaya"`` delegates to ``himalaya.ridge.RidgeCV`` (reference path).

    Attributes
    ----------
    coef_ : ndarray (n_features, n_targets), on standardised columns
    intercept_ : ndarray (n_targets,)
    best_alphas_ : ndarray (n_targets,)
    cv_scores_ : ndarray (n_targets,)  (inner-CV mean negative MSE at the chosen alpha)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); Y = X @ rng.normal(size=(5, 3)) + 0.1 * rng.normal(size=(200, 3))
    >>> enc = RidgeEncoder(backend="numpy").fit(X, Y)
    >>> bool(enc.score(X, Y).min() > 0.9)
    True
    """

    def __init__(self, alphas=None, *, cv=5, fit_intercept=True, standardize=True,
                 n_targets_batch=None, backend="auto", solver="auto"):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.n_targets_batch = n_targets_batch
        self.backend = backend
        self.solver = solver

    def fit(self, X, Y, runs: Sequence[str] | None = None, gap: int = 0) -> "RidgeEncoder":
        """Fit on ``X`` (n_samples, n_features) and ``Y`` (n_samples, n_targets)."""
        X, Y = _check_xy(X, Y)
        if self.solver not in ("auto", "primal", "kernel", "himalaya"):
            raise BrainalignInputError(f"solver must be 'auto', 'primal', 'kernel' or 'himalaya', got {self.solver!r}.")
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        Xs = _scaled(X, self.scaler_)
        splits = _estimator_splits(self.cv, X.shape[0], runs, gap)
        alphas = _alpha_grid(self.alphas)
        with using_backend(self.backend) as backend:
            if self.solver == "himalaya":
                out = _fit_himalaya(Xs, Y, alphas, splits, self.fit_intercept, self.n_targets_batch, backend)
            else:
                out = solve_ridge_cv(Xs, Y, alphas, splits, fit_intercept=self.fit_intercept,
                                     n_targets_batch=self.n_targets_batch, form=self.solver, backend=backend)
            self.backend_ = backend.name
        self.coef_ = out["weights"]
        self.intercept_ = out["intercept"]
        self.best_alphas_ = out["best_alphas"]
        self.cv_scores_ = out["cv_scores"]
        self.n_features_in_ = X.shape[1]
        return self

    def _transform_x(self, X) -> np.ndarray:
        X, _ = _check_xy(X, None)
        if X.shape[1] != self.n_features_in_:
            raise BrainalignInputError(f"X has {X.shape[1]} features; the encoder was fitted on {self.n_features_in_}.")
        return _scaled(X, self.scaler_)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shape (n_samples, n_targets)."""
        if not hasattr(self, "coef_"):
            raise BrainalignInputError("This RidgeEncoder is not fitted yet; call fit(X, Y) first.")
        return self._transform_x(X) @ self.coef_ + self.intercept_

    def score(self, X, Y, sample_weight=None) -> np.ndarray:  # noqa: D401 - sklearn signature
        """Pearson r between predictions and ``Y``, per target."""
        X, Y = _check_xy(X, Y)
        return correlation_score(Y, self.predict(X))


def _fit_himalaya(Xs, Y, alphas, splits, fit_intercept, n_targets_batch, backend) -> dict:
    from himalaya.ridge import RidgeCV

    model = RidgeCV(alphas=alphas, cv=splits, fit_intercept=fit_intercept,
                    solver_params={"n_targets_batch": n_targets_batch, "warn": False})
    model.fit(backend.asarray(Xs), backend.asarray(Y.astype(np.float32)))
    intercept = backend.to_numpy(model.intercept_) if fit_intercept else np.zeros(Y.shape[1], np.float32)
    return {"weights": backend.to_numpy(model.coef_), "intercept": intercept,
            "best_alphas": backend.to_numpy(model.best_alphas_), "cv_scores": backend.to_numpy(model.cv_scores_)}
