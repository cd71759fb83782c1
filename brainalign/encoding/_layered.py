"""What the "layer given a baseline" encoders share: the baseline's ridge, fitted first.

:class:`StackedEncoder` and :class:`GatedPCREncoder` take the FIRST band of the
design as the baseline and the other bands as the layer.  The baseline is fitted
exactly as a one-band ridge of the baseline alone (same solver, folds and
alphas), so a target where the layer is left out scores the baseline's own r
and its gain is exactly 0.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..core import BrainalignInputError
from ._backend import using_backend
from ._sklearn_api import _alpha_grid, _estimator_splits, batched_predict, inner_cv_of
from ._solvers import default_targets_batch, solve_ridge_cv


class BaselineThenLayer(BaseEstimator):
    """Base class: checks the protocol's inputs, fits the baseline band by ridge, leaves the layer to subclasses.

    Subclasses implement ``_fit_layer(Xl, residual, splits, alphas, gap)`` (store
    what the layer's prediction needs, return ``fit_info_`` entries) and
    ``_predict_layer(Xl)`` (the layer's part of the prediction, float64).
    """

    def _check_fit_inputs(self, X, Y, bands, groups, gap):
        owner = type(self).__name__
        X = np.asarray(X)
        Y = np.asarray(Y)
        if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
            raise BrainalignInputError(f"{owner}.fit: X (n, n_features) and Y (n, n_targets) must be 2-D with the "
                                       f"same rows, got {X.shape} and {Y.shape}.")
        sizes = [b.n_features for b in bands] if bands is not None else [X.shape[1]]
        if len(sizes) < 2 or sum(sizes) != X.shape[1]:
            raise BrainalignInputError(
                f"{owner} needs a design of at least two bands, the first being the baseline (stack them with "
                f"DesignMatrix.stack([baseline, layer]) or pass baseline= to cross_validate); got bands of "
                f"{sizes} columns for {X.shape[1]} columns.")
        if isinstance(gap, (bool, np.bool_)) or not isinstance(gap, (int, np.integer)) or gap < 0:
            raise BrainalignInputError(f"{owner}: gap must be an int >= 0 samples, got {gap!r}.")
        cv, cv_name = inner_cv_of(self)
        splits = _estimator_splits(cv, X.shape[0], groups, int(gap), owner=owner, name=cv_name)
        return X, Y, sizes[0], splits

    def fit(self, X, Y, *, bands=None, groups=None, gap=0):
        """Fit the baseline (first band) by ridge, then the layer (other bands) on its training residual.

        Parameters
        ----------
        X : ndarray (n_train, n_features)
            Training rows, in time order within each group; standardised by the caller.
        Y : ndarray (n_train, n_targets)
        bands : tuple of Band
            At least two; the first is the baseline.
        groups : sequence or None
            Run (or contiguous piece) of every row; inner CV blocks stay within them.
        gap : int
            Samples dropped around inner validation blocks.

        Returns
        -------
        self
        """
        self._check_params()
        X, Y, nb, splits = self._check_fit_inputs(X, Y, bands, groups, gap)
        alphas = _alpha_grid(self.alphas)
        n_train, n_targets = Y.shape
        with using_backend(self.backend) as bk:
            base = solve_ridge_cv(X[:, :nb], Y, alphas, splits, X_test=X[:, :nb], return_weights=True,
                                  n_targets_batch=self.n_targets_batch, backend=bk)
        self.n_baseline_ = nb
        self.baseline_coef_, self.baseline_intercept_ = base["weights"], base["intercept"]
        self._baseline_batch = self.n_targets_batch or default_targets_batch(n_train, n_targets)
        residual = np.asarray(Y, dtype=np.float64) - base["predictions"]
        info = self._fit_layer(np.asarray(X[:, nb:], np.float64), residual, splits, alphas, int(gap))
        self.fit_info_ = {"baseline_alphas": base["best_alphas"], **info}
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Baseline prediction plus the layer's (float32, (n_test, n_targets))."""
        if not hasattr(self, "fit_info_"):
            raise BrainalignInputError(f"This {type(self).__name__} is not fitted yet; call fit(X, Y, bands=...) first.")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise BrainalignInputError(f"{type(self).__name__}.predict: X must have {self.n_features_in_} columns, "
                                       f"got shape {X.shape}.")
        nb = self.n_baseline_
        base = batched_predict(np.asarray(X[:, :nb], dtype=np.float32), self.baseline_coef_,
                               self.baseline_intercept_, self._baseline_batch)
        return self._combine(base, np.asarray(X[:, nb:], np.float64))
