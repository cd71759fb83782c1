"""scikit-learn style encoders: ridge with per-target alphas, and banded ridge."""

from __future__ import annotations

import logging
import warnings
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score as _sklearn_r2_score
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core import BrainalignInputError
from ._backend import using_backend
from ._cv import inner_splits as make_inner_splits
from . import _solvers
from ._solvers import default_targets_batch, solve_ridge_cv
from ._stats import correlation_score, r2_score

logger = logging.getLogger("brainalign.encoding")

DEFAULT_ALPHAS = np.logspace(-1, 7, 17)

#: share of targets whose chosen alpha sits at one end of the grid above which the fit warns
ALPHA_EDGE_SHARE = 0.5


def default_alphas() -> np.ndarray:
    """``np.logspace(-1, 7, 17)``: wide enough for standardised designs of 10 to 10 000 columns."""
    return DEFAULT_ALPHAS.copy()


def alphas_from_text(text: str | None) -> np.ndarray | None:
    """A log-spaced grid from ``"low,high,n"`` (exponents of 10), as written in TOML files and on the CLI.

    Examples
    --------
    >>> alphas_from_text("-1,7,17")[[0, -1]].tolist()
    [0.1, 10000000.0]
    """
    if text is None:
        return None
    try:
        low, high, n = (float(x) for x in str(text).split(","))
        return np.logspace(low, high, int(n))
    except ValueError as err:
        raise BrainalignInputError(f"alphas must be 'low,high,n' (exponents of 10), e.g. '-1,7,17', got {text!r}.") from err


def _alpha_grid(alphas) -> np.ndarray:
    """Candidate penalties as a 1-D float array; ``None`` gives :func:`default_alphas`."""
    if alphas is None:
        return default_alphas()
    try:
        grid = np.atleast_1d(np.asarray(alphas, dtype=np.float64)).ravel()
    except (TypeError, ValueError) as err:
        raise BrainalignInputError(f"alphas must be positive finite numbers, got {alphas!r}.") from err
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise BrainalignInputError(f"alphas must be positive finite numbers, got {grid.tolist()}.")
    return grid


def alpha_edge_message(best_alphas, grid, what: str = "targets", edges=("lowest", "highest")) -> str | None:
    """A warning text when the chosen alphas sit at one end of ``grid`` for most targets, else ``None``.

    An alpha at the edge of the grid means the best penalty may lie beyond
    it: at the low end the grid should extend lower; at the high end either
    the targets carry no signal the design can predict (expected for noise
    voxels) or the grid should extend higher.
    """
    best = np.asarray(best_alphas, dtype=np.float64).ravel()
    grid = np.asarray(grid, dtype=np.float64).ravel()
    if best.size == 0 or grid.size < 2:
        return None
    lo, hi = grid.min(), grid.max()
    for edge, name, advice in ((lo, "lowest", "extend the grid to smaller alphas"),
                               (hi, "highest", "extend the grid to larger alphas, or check that the design "
                                               "predicts these targets at all")):
        if name not in edges:
            continue
        share = float(np.mean(np.isclose(best, edge, rtol=1e-4, atol=0.0)))  # float32 round trips
        if share >= ALPHA_EDGE_SHARE:
            return (f"The chosen alpha is the {name} value of the grid ({edge:g}) for {share:.0%} of {what} "
                    f"({int(round(share * best.size))} of {best.size}): the best penalty may lie outside the grid "
                    f"[{lo:g}, {hi:g}]; {advice}.")
    return None


def _warn_alpha_edge(best_alphas, grid, owner: str) -> None:
    message = alpha_edge_message(best_alphas, grid)
    if message is not None:
        warnings.warn(f"{owner}: {message}", UserWarning, stacklevel=3)


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


def _linear_predict(X: np.ndarray, scaler: Standardizer | None, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """``X @ coef + intercept`` on scaled columns, in ``X``'s precision.

    float64 input is predicted in float64, so a row's prediction does not
    depend on which other rows came with it (float32 matrix products do, in
    the last bits); float32 input stays float32 to keep memory low.
    """
    if X.dtype != np.float64:
        return _scaled(X, scaler) @ coef + intercept
    Xs = (X - scaler.mean_) / scaler.scale_ if scaler is not None else X
    return Xs @ coef.astype(np.float64) + intercept.astype(np.float64)


def _estimator_splits(cv, n_samples: int, runs, gap: int, owner: str = "encoder",
                      name: str = "cv") -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner folds of an encoder's ``cv`` / ``inner_cv`` (``name``): an int gives contiguous run-aware blocks;
    else the given splitter's or folds."""
    if name == "inner_cv" and (isinstance(cv, (str, bytes)) or not hasattr(cv, "split")) and (
            not isinstance(cv, (list, tuple)) or isinstance(cv, (bool, np.bool_))):
        # an int (or a bad scalar): checked and cut as cross_validate's inner folds always were
        runs_arr = np.full(n_samples, "run-1", dtype=object) if runs is None else np.asarray(runs, dtype=object)
        if runs_arr.shape != (n_samples,):
            raise BrainalignInputError(
                f"{owner}: runs must give one label per sample ({n_samples}), got shape {runs_arr.shape}."
            )
        if isinstance(gap, (bool, np.bool_)) or not isinstance(gap, (int, np.integer)) or gap < 0:
            raise BrainalignInputError(f"{owner}: gap must be >= 0 samples, got {gap!r}.")
        return make_inner_splits(np.arange(n_samples), runs_arr, cv, int(gap))
    if isinstance(cv, (bool, np.bool_, str, bytes)) or cv is None:
        raise BrainalignInputError(f"{owner}: cv must be an int >= 2 or a sequence of (train, validation) folds, got {cv!r}.")
    if isinstance(cv, (int, np.integer)):
        k = int(cv)
        if k < 2:
            raise BrainalignInputError(f"{owner}: cv={k} inner folds; at least 2 are needed to choose alphas.")
        if k > n_samples:
            # fewer samples than folds used to be clipped silently, leaving alphas at the edge of the grid
            raise BrainalignInputError(
                f"{owner}: cv={k} inner folds need at least {k} samples, got n_samples={n_samples}; "
                f"use cv <= {n_samples} or more samples."
            )
        runs_arr = np.full(n_samples, "run-1", dtype=object) if runs is None else np.asarray(runs, dtype=object)
        if runs_arr.shape != (n_samples,):
            raise BrainalignInputError(
                f"{owner}: runs must give one label per sample ({n_samples}), got shape {runs_arr.shape}."
            )
        if isinstance(gap, (bool, np.bool_)) or not isinstance(gap, (int, np.integer)) or gap < 0:
            raise BrainalignInputError(f"{owner}: gap must be >= 0 samples, got {gap!r}.")
        return make_inner_splits(np.arange(n_samples), runs_arr, k, int(gap))
    if hasattr(cv, "split"):
        # brainalign's and scikit-learn's splitters alike: runs are the groups
        try:
            with warnings.catch_warnings():  # "groups is ignored" by KFold & co: expected, runs or not
                warnings.filterwarnings("ignore", message="The groups parameter is ignored")
                cv = list(cv.split(np.zeros((n_samples, 1)), None, runs))
        except ValueError as err:
            raise BrainalignInputError(f"{owner}: the inner splitter {cv!r} failed: {err}") from err
    try:
        folds = [(np.asarray(tr, dtype=np.intp), np.asarray(va, dtype=np.intp)) for tr, va in cv]
    except (TypeError, ValueError) as err:
        raise BrainalignInputError(
            f"{owner}: cv must be an int >= 2 or a sequence of (train, validation) index arrays, got {cv!r}."
        ) from err
    for i, (tr, va) in enumerate(folds):
        if tr.size == 0 or va.size == 0:
            raise BrainalignInputError(f"{owner}: inner fold {i} has an empty training or validation set.")
        for name, idx in (("training", tr), ("validation", va)):
            if idx.min() < 0 or idx.max() >= n_samples:
                raise BrainalignInputError(
                    f"{owner}: inner fold {i} has {name} indices outside [0, {n_samples}) "
                    f"(range {int(idx.min())}..{int(idx.max())})."
                )
    if not folds:
        raise BrainalignInputError(f"{owner}: cv gave no inner folds.")
    return folds


def inner_cv_of(estimator) -> tuple[object, str]:
    """The inner-CV setting of an encoder and its option name: ``inner_cv``, or its older name ``cv`` when given."""
    cv = getattr(estimator, "cv", None)
    return (cv, "cv") if cv is not None else (estimator.inner_cv, "inner_cv")


def protocol_groups(groups, runs, owner: str):
    """Run label per row from ``fit(..., groups=)`` or its older name ``runs=`` (one of them)."""
    if groups is not None and runs is not None:
        raise BrainalignInputError(f"{owner}.fit: give groups (the run label per row) or runs, not both.")
    return groups if groups is not None else runs


def batched_predict(X32: np.ndarray, coef: np.ndarray, intercept: np.ndarray, batch: int | None) -> np.ndarray:
    """``X32 @ coef + intercept`` in float32, target batch by target batch as the ridge solver predicts,
    so a prediction made after the fit equals the one made inside it bit for bit."""
    n_targets = coef.shape[1]
    batch = int(batch) if batch else max(1, n_targets)
    out = np.empty((X32.shape[0], n_targets), dtype=np.float32)
    for start in range(0, n_targets, batch):
        cols = slice(start, min(start + batch, n_targets))
        out[:, cols] = X32 @ np.ascontiguousarray(coef[:, cols]) + intercept[cols]
    return out


class EncoderInputTypeError(BrainalignInputError, TypeError):
    """Input of a type the encoders cannot use (sparse matrices, objects); also a ``TypeError``."""


class EncoderNotFittedError(BrainalignInputError, NotFittedError):
    """``predict`` or ``score`` before ``fit``: also a scikit-learn ``NotFittedError``."""


def _require_fitted(estimator) -> None:
    try:
        check_is_fitted(estimator, "coef_")
    except NotFittedError:
        raise EncoderNotFittedError(
            f"This {type(estimator).__name__} is not fitted yet; call fit(X, y) first."
        ) from None


def _n_rows(values) -> int | None:
    try:
        return int(values.shape[0]) if hasattr(values, "shape") else len(values)
    except (TypeError, IndexError):
        return None


def _precheck_lengths(X, y, owner: str) -> None:
    """Say which side is short (scikit-learn's message only lists the two lengths)."""
    if y is None:
        return
    n_x, n_y = _n_rows(X), _n_rows(y)
    if n_x is not None and n_y is not None and n_x != n_y:
        raise BrainalignInputError(f"{owner}: length mismatch: X has {n_x} samples but y has {n_y}.")


def _precheck_targets(y) -> None:
    """Name the non-finite targets (scikit-learn's own message does not say which)."""
    if y is None or hasattr(y, "toarray"):
        return
    try:
        arr = np.asarray(y)
    except Exception:  # noqa: BLE001 - anything unusual is left to scikit-learn's checks
        return
    if arr.ndim != 2 or arr.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(arr).all(axis=0)
    if bad.any():
        raise BrainalignInputError(
            f"y contains NaN or inf in {bad.sum()} target(s) (first: {np.flatnonzero(bad)[:10].tolist()}); "
            f"remove them before fitting (Recording(..., on_bad_targets='drop') does it with a log entry)."
        )


def _validated(estimator, X, y=None, *, fit: bool):
    """scikit-learn's ``validate_data``; its errors come back as :class:`BrainalignInputError`.

    With ``fit=True`` sets ``n_features_in_`` (and ``feature_names_in_``) and
    returns ``(X, y)`` with ``y`` as float; otherwise checks ``X`` against them.
    """
    owner = type(estimator).__name__
    try:
        if fit:
            _precheck_lengths(X, y, owner)
            _precheck_targets(y)
            X, y = validate_data(estimator, X, y, multi_output=True, y_numeric=True,
                                 dtype=[np.float64, np.float32], accept_sparse=False)
            if not np.issubdtype(y.dtype, np.floating):
                y = y.astype(np.float64)
            if y.ndim > 2:
                raise BrainalignInputError(f"{owner}: y must be 1-D or 2-D (n_samples, n_targets), got shape {y.shape}.")
            return X, y
        return validate_data(estimator, X, reset=False, dtype=[np.float64, np.float32], accept_sparse=False)
    except BrainalignInputError:
        raise
    except TypeError as err:
        raise EncoderInputTypeError(f"{owner}: {err}") from err
    except ValueError as err:
        raise BrainalignInputError(f"{owner}: {err}") from err


def _check_y_for_score(estimator, X: np.ndarray, y) -> np.ndarray:
    """``y`` of a score call as a float array matching ``X``'s rows (1-D or 2-D)."""
    owner = type(estimator).__name__
    _precheck_targets(y)
    try:
        from sklearn.utils.validation import check_array

        y = check_array(y, ensure_2d=False, dtype=[np.float64, np.float32], input_name="y")
    except TypeError as err:
        raise EncoderInputTypeError(f"{owner}: {err}") from err
    except ValueError as err:
        raise BrainalignInputError(f"{owner}: {err}") from err
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise BrainalignInputError(
            f"{owner}: y has shape {y.shape} but X has {X.shape[0]} samples; y must be (n_samples,) or "
            f"(n_samples, n_targets)."
        )
    return y


def _target_scores(y, pred, metric: str, owner: str) -> np.ndarray:
    y2 = y[:, None] if y.ndim == 1 else y
    p2 = pred[:, None] if pred.ndim == 1 else pred
    if y2.shape != p2.shape:
        raise BrainalignInputError(f"{owner}: y has {y2.shape[1]} target(s) but the encoder predicts {p2.shape[1]}.")
    if metric == "r":
        return correlation_score(y2, p2)
    if metric == "r2":
        return r2_score(y2, p2)
    raise BrainalignInputError(f"{owner}: metric must be 'r' (Pearson r) or 'r2', got {metric!r}.")


class _EncoderScores:
    """``score`` (scikit-learn's scalar R^2) and ``score_targets`` (per-target r or R^2)."""

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination R^2, averaged uniformly over targets (scikit-learn's convention).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like (n_samples,) or None

        Returns
        -------
        float
            Use :meth:`score_targets` for one score per target (e.g. Pearson r).
        """
        pred = self.predict(X)
        y = _check_y_for_score(self, pred, y)
        if y.shape != pred.shape:
            _target_scores(y, pred, "r2", type(self).__name__)  # raises naming the target counts
            pred = pred.reshape(y.shape)
        try:
            return float(_sklearn_r2_score(y, pred, sample_weight=sample_weight, multioutput="uniform_average"))
        except (TypeError, ValueError) as err:  # e.g. sample_weight of the wrong length
            raise BrainalignInputError(f"{type(self).__name__}.score: {err}") from None

    def score_targets(self, X, y, metric: str = "r") -> np.ndarray:
        """One score per target between the predictions for ``X`` and ``y``.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_targets)
        metric : {"r", "r2"}
            ``"r"``: Pearson correlation (0 where either side is constant);
            ``"r2"``: coefficient of determination relative to ``y``'s own mean.

        Returns
        -------
        ndarray (n_targets,)
        """
        pred = self.predict(X)
        y = _check_y_for_score(self, pred, y)
        return _target_scores(y, pred, metric, type(self).__name__)


class RidgeEncoder(_EncoderScores, RegressorMixin, BaseEstimator):
    """Ridge regression with one penalty per target, chosen by inner cross-validation.

    One eigendecomposition of the training design per inner fold (and one for
    the refit) is shared by all alphas and targets; primal (features) or
    kernel (samples) form is chosen by shape.  Runs on himalaya's backends.
    Follows scikit-learn's estimator API (``Pipeline``, ``GridSearchCV``,
    ``cross_val_score``): :meth:`score` is the R^2 averaged over targets,
    :meth:`score_targets` gives Pearson r (or R^2) per target.

    Parameters
    ----------
    alphas : array-like or None
        Candidate penalties; ``None`` = ``np.logspace(-1, 7, 17)``.
    inner_cv : int, splitter or sequence of (train, validation) index arrays
        Inner folds for choosing alphas: an int gives contiguous blocks
        (time-aware; ``fit(..., groups=, gap=)`` shapes them) and must not
        exceed the number of samples; a splitter is a brainalign one
        (:class:`ContiguousBlockCV`, ...) or a scikit-learn one (``KFold``, ...).
    cv : same as ``inner_cv`` or None
        Older name of ``inner_cv``; used instead of it when given.
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
    >>> X = rng.normal(size=(200, 5)); Y = X @ rng.normal(size=(5, 3)) + rng.normal(size=(200, 3))
    >>> enc = RidgeEncoder(backend="numpy").fit(X, Y)
    >>> bool(enc.score(X, Y) > 0.6), bool(enc.score_targets(X, Y, metric="r").min() > 0.8)
    (True, True)
    """

    #: every target gets its own penalty and fit: cross_validate may run the targets in batches
    per_target = True

    def __init__(self, alphas=None, *, inner_cv=5, cv=None, fit_intercept=True, standardize=True,
                 n_targets_batch=None, backend="auto", solver="auto"):
        self.alphas = alphas
        self.inner_cv = inner_cv
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.n_targets_batch = n_targets_batch
        self.backend = backend
        self.solver = solver

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def fit(self, X, y, runs: Sequence[str] | None = None, gap: int = 0, *, bands=None,
            groups: Sequence[str] | None = None) -> "RidgeEncoder":
        """Fit on ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, n_targets).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_targets)
        runs : sequence of str or None
            Older name of ``groups``.
        gap : int
            Samples dropped from training on each side of an inner validation block.
        bands : tuple of Band or None
            Ignored (one penalty for all columns); accepted as every encoder does.
        groups : sequence of str or None
            Run label per sample; an int ``inner_cv`` keeps inner blocks within runs.

        Returns
        -------
        RidgeEncoder
        """
        runs = protocol_groups(groups, runs, type(self).__name__)
        if self.solver not in ("auto", "primal", "kernel", "himalaya"):
            raise BrainalignInputError(f"solver must be 'auto', 'primal', 'kernel' or 'himalaya', got {self.solver!r}.")
        X, y = _validated(self, X, y, fit=True)
        self._y_1d = y.ndim == 1
        Y = y[:, None] if self._y_1d else y
        alphas = _alpha_grid(self.alphas)
        cv, cv_name = inner_cv_of(self)
        splits = _estimator_splits(cv, X.shape[0], runs, gap, owner=type(self).__name__, name=cv_name)
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        Xs = _scaled(X, self.scaler_)
        with using_backend(self.backend) as backend:
            # set by _batch_fitter: the decompositions of this X, shared with the other target batches
            plan = self.__dict__.pop("_shared_plan", None)
            if self.solver == "himalaya":
                out = _fit_himalaya(Xs, Y, alphas, splits, self.fit_intercept, self.n_targets_batch, backend)
            elif plan is not None:
                out = plan.solve(Y, n_targets_batch=self.n_targets_batch)
            else:
                out = solve_ridge_cv(Xs, Y, alphas, splits, fit_intercept=self.fit_intercept,
                                     n_targets_batch=self.n_targets_batch, form=self.solver, backend=backend)
            self.backend_ = backend.name
        self.coef_ = out["weights"]
        self.intercept_ = out["intercept"]
        self.best_alphas_ = out["best_alphas"]
        self.cv_scores_ = out["cv_scores"]
        self.form_ = out.get("form", "himalaya")
        self.fit_info_ = {"alphas": self.best_alphas_}
        # the solver's target batches, so that predict reproduces its predictions bit for bit
        self._targets_batch = self.n_targets_batch or default_targets_batch(X.shape[0], Y.shape[1])
        _warn_alpha_edge(self.best_alphas_, alphas, type(self).__name__)
        return self

    def _batch_fitter(self, X, *, groups: Sequence[str] | None = None, gap: int = 0):
        """``fit_batch(Y)``, fitting a clone on ``X`` and ``Y``, for many target batches of one ``X``; or None.

        Every batch's fit reuses one set of decompositions of ``X`` (the inner
        folds' and the refit's), so cutting the targets into batches costs no
        extra decomposition.  That needs the ridge core's
        ``prepare_ridge_cv(X, alphas, inner_splits, *, fit_intercept, form,
        backend)`` returning a plan whose ``solve(Y, n_targets_batch=)`` gives
        ``solve_ridge_cv``'s output for those targets bit for bit; without it
        (or with ``solver="himalaya"``) None, and the caller fits a clone per
        batch.  Used by :func:`~brainalign.encoding.cross_validate`.
        """
        prepare = getattr(_solvers, "prepare_ridge_cv", None)
        if prepare is None or self.solver == "himalaya":
            return None
        template = clone(self)
        runs = protocol_groups(groups, None, type(self).__name__)
        Xv, _ = _validated(template, X, np.zeros(np.shape(X)[0]), fit=True)
        cv, cv_name = inner_cv_of(self)
        splits = _estimator_splits(cv, Xv.shape[0], runs, gap, owner=type(self).__name__, name=cv_name)
        scaler = Standardizer().fit(Xv) if self.standardize else None
        with using_backend(self.backend) as backend:
            plan = prepare(_scaled(Xv, scaler), _alpha_grid(self.alphas), splits, fit_intercept=self.fit_intercept,
                           form=self.solver, backend=backend)

        def fit_batch(Y):
            est = clone(self)
            est._shared_plan = plan
            return est.fit(X, Y, groups=groups, gap=gap)

        return fit_batch

    def predict(self, X) -> np.ndarray:
        """Predicted targets, (n_samples, n_targets); (n_samples,) when fitted on a 1-D ``y``.

        The predictions have ``X``'s floating dtype (float32 input keeps memory low).
        """
        _require_fitted(self)
        X = _validated(self, X, fit=False)
        if X.dtype == np.float32 and self.scaler_ is None:
            pred = batched_predict(X, self.coef_, self.intercept_, getattr(self, "_targets_batch", None))
        else:
            pred = _linear_predict(X, self.scaler_, self.coef_, self.intercept_)
        return pred[:, 0] if getattr(self, "_y_1d", False) else pred


def _fit_himalaya(Xs, Y, alphas, splits, fit_intercept, n_targets_batch, backend) -> dict:
    from himalaya.ridge import RidgeCV

    model = RidgeCV(alphas=alphas, cv=splits, fit_intercept=fit_intercept,
                    solver_params={"n_targets_batch": n_targets_batch, "warn": False})
    model.fit(backend.asarray(Xs), backend.asarray(Y.astype(np.float32)))
    intercept = backend.to_numpy(model.intercept_) if fit_intercept else np.zeros(Y.shape[1], np.float32)
    return {"weights": backend.to_numpy(model.coef_), "intercept": intercept,
            "best_alphas": backend.to_numpy(model.best_alphas_), "cv_scores": backend.to_numpy(model.cv_scores_)}
