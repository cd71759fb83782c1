"""Banded ridge: one penalty per feature space (band), and variance partitioning between bands."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..core import BrainalignInputError
from ._backend import using_backend
from ._sklearn_api import (
    Standardizer,
    _alpha_grid,
    _check_y_for_score,
    _EncoderScores,
    _estimator_splits,
    _linear_predict,
    _require_fitted,
    _scaled,
    _validated,
    _warn_alpha_edge,
    inner_cv_of,
    protocol_groups,
)

logger = logging.getLogger("brainalign.encoding")


def _is_band_list(Xs) -> bool:
    """A list/tuple of 2-D blocks (the band form), as opposed to one 2-D array or nested lists of numbers."""
    return isinstance(Xs, (list, tuple)) and len(Xs) > 0 and all(np.ndim(b) == 2 for b in Xs)


def _stack_bands(Xs, owner: str) -> tuple[object, list[int] | None]:
    """``(X, sizes)``: a band list is stacked column-wise (sizes from the blocks); one 2-D array passes through."""
    if isinstance(Xs, (list, tuple)) and len(Xs) == 0:
        raise BrainalignInputError(f"{owner}: got an empty list of bands; pass a 2-D array or a list of 2-D arrays.")
    if not _is_band_list(Xs):
        return Xs, None
    blocks = [np.asarray(b) for b in Xs]
    rows = [b.shape[0] for b in blocks]
    if len(set(rows)) != 1:
        raise BrainalignInputError(f"{owner}: all bands must have the same number of samples, got {rows}.")
    for i, b in enumerate(blocks):
        if b.shape[1] == 0:
            raise BrainalignInputError(f"{owner}: band {i} has 0 columns; every band needs at least one feature.")
    return np.hstack(blocks), [int(b.shape[1]) for b in blocks]


def _check_band_sizes(band_sizes, n_features: int, owner: str) -> list[int]:
    """Band sizes as positive ints summing to ``n_features``; ``None`` = one band of all columns."""
    if band_sizes is None:
        return [int(n_features)]
    message = f"{owner}: band_sizes must be a sequence of positive ints, got {band_sizes!r}."
    try:
        given = np.atleast_1d(np.asarray(band_sizes, dtype=float)).ravel()
    except (TypeError, ValueError):
        raise BrainalignInputError(message) from None
    if given.size == 0 or not np.all(np.isfinite(given)) or np.any(given != np.rint(given)) or np.any(given < 1):
        raise BrainalignInputError(message)
    sizes = [int(v) for v in given]
    if sum(sizes) != n_features:
        raise BrainalignInputError(
            f"{owner}: band_sizes {sizes} add up to {sum(sizes)} columns but X has {n_features} features."
        )
    return sizes


class BandedRidgeEncoder(_EncoderScores, RegressorMixin, BaseEstimator):
    """Ridge with one regularisation per band, tuned per target by random search (himalaya).

    Wraps ``himalaya.ridge.GroupRidgeCV`` when samples >= features and
    ``himalaya.kernel_ridge.MultipleKernelRidgeCV`` (precomputed linear
    kernels) otherwise.  Combining e.g. a model layer with baseline regressors
    this way lets the baseline keep its own penalty.

    ``X`` is either a list of 2-D arrays, one per band, or one 2-D array
    whose columns are cut into bands by ``band_sizes`` (the form that
    composes with scikit-learn's ``Pipeline``, ``GridSearchCV`` and
    ``cross_val_score``).  :meth:`score` is the R^2 averaged over targets,
    :meth:`score_targets` gives Pearson r (or R^2) per target.

    Parameters
    ----------
    alphas : array-like or None
        Candidate global penalties (default ``np.logspace(-1, 7, 17)``).
    n_iter : int
        Random band weightings tried (Dirichlet samples on the simplex).
    inner_cv : int, splitter or sequence of (train, validation) index arrays
        Inner folds (an int gives contiguous blocks, at most n_samples; see
        :class:`RidgeEncoder`).
    cv : same as ``inner_cv`` or None
        Older name of ``inner_cv``; used instead of it when given.
    fit_intercept, standardize : bool
    backend : {"auto", "numpy", "cpu", "torch", "torch_cuda"}
    solver : {"auto", "primal", "kernel"}
    random_state : int
    n_targets_batch : int or None
    band_sizes : sequence of int or None
        Columns of each band, in order, when ``X`` is one 2-D array;
        ``None`` = the sizes of ``fit(..., bands=)``, else one band of all
        columns (plain ridge).  With a list of arrays the sizes come from the
        arrays (and must agree when given).

    Attributes
    ----------
    coef_ : ndarray (n_features_total, n_targets), on standardised columns
    band_sizes_ : list of int
    band_slices_ : list of slice
    deltas_ : ndarray (n_bands, n_targets)  log band scalings (himalaya)
    best_alphas_ : ndarray (n_targets,)
    n_features_in_ : int

    Warns
    -----
    UserWarning
        When the chosen alpha is the lowest or highest of the grid for at
        least half of the targets.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(200, 4)), rng.normal(size=(200, 3))
    >>> Y = A @ rng.normal(size=(4, 2)) + rng.normal(size=(200, 2))
    >>> enc = BandedRidgeEncoder(n_iter=5, backend="numpy").fit([A, B], Y)
    >>> enc.predict_bands([A, B]).shape
    (2, 200, 2)
    >>> enc2 = BandedRidgeEncoder(n_iter=5, backend="numpy", band_sizes=[4, 3]).fit(np.hstack([A, B]), Y)
    >>> enc2.band_sizes_
    [4, 3]
    """

    #: cross_validate refuses a one-band design (banded ridge of one band is plain ridge: use "ridge")
    _min_bands = 2

    def __init__(self, alphas=None, *, inner_cv=5, n_iter=20, cv=None, fit_intercept=True, standardize=True,
                 backend="auto", solver="auto", random_state=0, n_targets_batch=None, band_sizes=None):
        self.alphas = alphas
        self.inner_cv = inner_cv
        self.n_iter = n_iter
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.backend = backend
        self.solver = solver
        self.random_state = random_state
        self.n_targets_batch = n_targets_batch
        self.band_sizes = band_sizes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def fit(self, X, y, runs=None, gap: int = 0, *, bands=None, groups=None) -> "BandedRidgeEncoder":
        """Fit on the bands of ``X`` and on ``y`` (n_samples,) or (n_samples, n_targets).

        Parameters
        ----------
        X : list of array-like (n_samples, n_features_band), or array-like (n_samples, n_features)
            One block per band, or all bands side by side (cut by ``band_sizes`` or ``bands``).
        y : array-like (n_samples,) or (n_samples, n_targets)
        runs : sequence of str or None
            Older name of ``groups``.
        gap : int
            Samples dropped from training on each side of an inner validation block.
        bands : tuple of Band or None
            The bands of ``X``'s columns (used when ``band_sizes`` is None).
        groups : sequence of str or None
            Run label per sample; an int ``inner_cv`` keeps inner blocks within runs.

        Returns
        -------
        BandedRidgeEncoder
        """
        owner = type(self).__name__
        runs = protocol_groups(groups, runs, owner)
        X, list_sizes = _stack_bands(X, owner)
        X, y = _validated(self, X, y, fit=True)
        if list_sizes is not None and self.band_sizes is not None and _check_band_sizes(
                self.band_sizes, X.shape[1], owner) != list_sizes:
            raise BrainalignInputError(f"{owner}: band_sizes={list(self.band_sizes)} but the band list has "
                                       f"blocks of {list_sizes} columns.")
        given = self.band_sizes
        if given is None and bands is not None:
            given = [b.n_features for b in bands]
        sizes = list_sizes if list_sizes is not None else _check_band_sizes(given, X.shape[1], owner)
        if isinstance(self.n_iter, (bool, np.bool_)) or not isinstance(self.n_iter, (int, np.integer)) or self.n_iter < 1:
            raise BrainalignInputError(f"{owner}: n_iter must be a positive int, got {self.n_iter!r}.")
        self._y_1d = y.ndim == 1
        Y = y[:, None] if self._y_1d else y
        edges = np.concatenate([[0], np.cumsum(sizes)])
        self.band_sizes_ = list(sizes)
        self.band_slices_ = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        alphas = _alpha_grid(self.alphas)
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        Xs_ = _scaled(X, self.scaler_)
        n, p = Xs_.shape
        cv, cv_name = inner_cv_of(self)
        splits = _estimator_splits(cv, n, runs, gap, owner=owner, name=cv_name)
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
        self.fit_info_ = {"alphas": self.best_alphas_}
        _warn_alpha_edge(self.best_alphas_, alphas, owner)
        return self

    def _checked(self, X) -> np.ndarray:
        _require_fitted(self)
        owner = type(self).__name__
        X, list_sizes = _stack_bands(X, owner)
        if list_sizes is not None and list_sizes != self.band_sizes_:
            raise BrainalignInputError(f"{owner}: bands have {list_sizes} columns; fitted on {self.band_sizes_}.")
        return _validated(self, X, fit=False)

    def _standardised(self, X) -> np.ndarray:
        return _scaled(self._checked(X), self.scaler_)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, (n_samples, n_targets); (n_samples,) when fitted on a 1-D ``y``.

        The predictions have ``X``'s floating dtype (float32 input keeps memory low).
        """
        X = self._checked(X)
        pred = _linear_predict(X, self.scaler_, self.coef_, self.intercept_)
        return pred[:, 0] if getattr(self, "_y_1d", False) else pred

    def predict_bands(self, X) -> np.ndarray:
        """Each band's share of the prediction, (n_bands, n_samples, n_targets); they sum to
        ``predict(X) - intercept`` after centring on the training means."""
        Xc = self._standardised(X) - self._x_mean
        return np.stack([Xc[:, s] @ self.coef_[s] for s in self.band_slices_])

    def score_bands(self, X, y) -> np.ndarray:
        """Split R^2 per band (n_bands, n_targets): sums to the joint R^2 (himalaya's r2_score_split)."""
        parts = self.predict_bands(X)
        Y = _check_y_for_score(self, parts[0], y)
        Y = Y[:, None] if Y.ndim == 1 else Y
        if Y.shape[1] != parts.shape[2]:
            raise BrainalignInputError(
                f"{type(self).__name__}: y has {Y.shape[1]} target(s) but the encoder predicts {parts.shape[2]}."
            )
        Yc = Y - Y.mean(0)
        total = (Yc ** 2).sum(0)
        full = parts.sum(0)
        # split R^2 of band i: (2 <y, p_i> - <p_i, p>) / ||y||^2; sums to 1 - ||y - p||^2 / ||y||^2 minus the
        # intercept mismatch on the test set
        return np.stack([(2 * (Yc * p).sum(0) - (p * full).sum(0)) / total for p in parts])


__all__ = ["BandedRidgeEncoder"]
