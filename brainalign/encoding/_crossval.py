"""Outer cross-validation of a design against a recording, scored fold by fold."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from ..core import Band, BrainalignInputError, DesignMatrix, EncodingResult, Recording, hash_array, seconds_to_samples
from ..core import package_versions as _core_package_versions
from ..core.validation import as_float_array, positive_or_zero
from ._backend import resolve_backend
from ._banded import BandedRidgeEncoder
from ._cv import SHUFFLED_CV_WARNING, ShuffledKFold, contiguity_groups, inner_splits, resolve_outer_cv
from ._registry import (
    DEFAULT_BASELINE_ESTIMATOR,
    DEFAULT_ESTIMATOR,
    estimator_name,
    estimator_options,
    make_estimator,
    min_bands,
)
from ._sklearn_api import Standardizer, _alpha_grid, alpha_edge_message
from ._stats import circular_shift_null, correlation_score, draw_shifts, fdr, permutation_pvalues, r2_score

logger = logging.getLogger("brainalign.encoding")

#: default gap for fMRI: the canonical HRF returns to baseline after ~20 s
FMRI_GAP_S = 20.0
#: default gap for M/EEG without lag metadata: a typical TRF window
MEEG_GAP_S = 1.0


def default_gap_s(design: DesignMatrix, recording: Recording) -> float:
    """Seconds of history a sample shares with its neighbours through the design's bands.

    Read from the bands' delays / lags (:attr:`DesignMatrix.bands`, filled from
    ``metadata["delays_s"]``, ``["lags_s"]``, ``["delays_samples"]``, ... by the
    alignment methods): for fMRI/ROI data ~20 s (HRF length), longer when a
    band's delays plus one sample exceed it; for M/EEG the largest band history
    (1 s, a TRF's length, for a band without delays).  A stacked design gives the
    largest gap of its bands, so stacking never changes the gap.
    """
    if not isinstance(design, DesignMatrix) or not isinstance(recording, Recording):
        raise BrainalignInputError(
            f"default_gap_s needs a DesignMatrix and a Recording, got {type(design).__name__} and "
            f"{type(recording).__name__}."
        )
    spans = [b.history_s for b in design.bands]
    is_fmri = recording.kind in ("fmri", "roi") or (recording.kind == "other" and recording.sampling_period >= 0.5)
    if is_fmri:
        return max([FMRI_GAP_S] + [s + recording.sampling_period for s in spans if s is not None])
    return max(MEEG_GAP_S if s is None else s for s in spans)


def as_design(design, recording: Recording) -> DesignMatrix:
    """Accept a DesignMatrix or a plain (n_samples, n_features) array on the recording's grid."""
    if isinstance(design, DesignMatrix):
        return design
    if design is None:
        raise BrainalignInputError("design is missing (None); pass a DesignMatrix or an (n_samples, n_features) array.")
    X = as_float_array(design, "design")
    if X.ndim != 2 or X.shape[0] != recording.n_samples:
        raise BrainalignInputError(
            f"design has shape {X.shape} but the recording has {recording.n_samples} samples; "
            "pass an (n_samples, n_features) array or a DesignMatrix built on the recording."
        )
    return DesignMatrix(X, recording.runs, recording.sampling_period, name="features")


#: packages whose versions an encoding result records
ENCODING_PACKAGES = ("brainalign", "numpy", "scipy", "himalaya", "scikit-learn", "torch", "nilearn", "mne")


def package_versions(packages=ENCODING_PACKAGES, missing: str | None = None) -> dict[str, str]:
    """Versions of the packages an encoding result depends on (see :func:`brainalign.core.package_versions`)."""
    return _core_package_versions(packages, missing)


def _fold_ranges(test: np.ndarray) -> list[list[int]]:
    """Compact description of a test fold: [start, stop) ranges of contiguous indices."""
    if test.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(test) != 1)
    starts = np.concatenate([[test[0]], test[breaks + 1]])
    stops = np.concatenate([test[breaks] + 1, [test[-1] + 1]])
    return [[int(a), int(b)] for a, b in zip(starts, stops)]


def with_baseline(design: DesignMatrix, baseline: DesignMatrix, name: str | None = None) -> DesignMatrix:
    """``baseline`` (as one band named "baseline") stacked before ``design``: the input of the
    "layer given baseline" estimators, which take the first band as the baseline."""
    stacked = DesignMatrix.stack([baseline.as_one_band("baseline"), design], name=name or design.name)
    stacked.metadata["combined_with"] = "baseline"
    return stacked


def cross_validate(
    design,
    recording: Recording,
    *,
    estimator=None,
    cv="auto",
    baseline=None,
    gap_s: float | None = None,
    shuffle: bool = False,
    n_permutations: int = 0,
    seed: int = 0,
    model: str = "",
    standardize: bool = True,
    pca: int | None = None,
    return_predictions: bool = False,
    batch_bytes: int | None = None,
    **estimator_options,
) -> EncodingResult:
    """Cross-validated encoding of ``recording`` from ``design``, scored per test fold.

    Outer folds: leave-one-run-out when the recording has several runs,
    otherwise 5 contiguous blocks with ``gap_s`` seconds removed from the
    training data on each side of the test block.  In every outer fold the
    design is standardised on the training rows, the estimator is fitted on
    the training rows only (it chooses its penalties by inner CV within them,
    respecting runs and the gap), and r and R^2 are computed on that fold's
    test rows; the result holds per-fold scores (their mean is the headline),
    never scores of predictions concatenated across folds.

    Parameters
    ----------
    design : DesignMatrix or ndarray (n_samples, n_features)
    recording : Recording
    estimator : str, estimator object or None
        A registered name (``"ridge"``, ``"pcr"``, ``"stacked"``,
        ``"banded"``, or one added with :func:`register_estimator`) or an
        object following the estimator protocol (see the developer guide).
        Default: ``"ridge"``, or ``"pcr"`` with a ``baseline``.  ``"pcr"``
        (:class:`GatedPCREncoder`) and ``"stacked"`` (:class:`StackedEncoder`)
        take the design's first band as the baseline; ``"banded"``
        (:class:`BandedRidgeEncoder`) gives every band its own penalty.
        With them, ``result.alphas`` holds the layer's penalty (``inf`` =
        layer off) and ``metadata`` every other per-target choice of the fit
        (``baseline_alphas``, ``n_components``, ``layer_weights``, ... per fold).
    cv : "auto", int or splitter
        An int gives that many contiguous blocks; a splitter is any object with
        ``split(X, y, groups)`` (run labels as groups), e.g.
        :class:`LeaveOneRunOut` or ``sklearn.model_selection.GroupKFold``.
    baseline : DesignMatrix, ndarray or None
        Baseline regressors: fitted first by the default ``"pcr"`` (the design
        is stacked after them, see :func:`with_baseline`), as
        :func:`sweep_layers` and studies do, so a layer scores the same
        through every path.
    gap_s : float or None
        Seconds dropped around each test block and inner validation block
        (default from the design's bands, see :func:`default_gap_s`).
    shuffle : bool
        Shuffled K-fold instead (inflates scores with autocorrelated data; a
        warning is logged and stored in ``result.metadata["warnings"]``).
    n_permutations : int
        Circular-shift permutations of the test predictions for per-target
        p-values (``result.p_values``; FDR-adjusted in ``metadata["p_fdr"]``).
    seed : int
        Seeds the permutations, shuffled folds and the estimator's
        ``random_state`` when it has one and it is not given.
    model : str
        Model label carried into the result.
    standardize : bool
        Z-score the design's columns with each training set's statistics (the
        estimator's own ``standardize`` option, if any, is then turned off).
    pca : int or None
        Reduce the design to this many principal components, fitted on each
        outer fold's training rows only (one-band estimators only).
    return_predictions : bool
        Attach ``result.predictions`` (n_samples, n_targets; NaN where a row
        was never tested) and ``result.folds`` (list of test indices).
    batch_bytes : int or None
        Memory budget of the outer loop for one batch of targets (default
        :data:`TARGETS_BATCH_BYTES`, 256 MiB): an estimator that scores targets
        independently (class attribute ``per_target = True``, as
        :class:`RidgeEncoder`) is run on batches of targets: each fold's
        training and test rows of a batch are read from ``recording.data``
        (memory-mapped or not), fitted, scored and dropped, so the loop's peak
        memory does not grow with the number of targets (the results are the
        same bit for bit).  Only per-fold scores, and predictions when asked,
        are kept.  Folds are the outer loop (batches the outer one with
        ``n_permutations``); an estimator with a ``_batch_fitter`` (RidgeEncoder,
        when the ridge core offers ``prepare_ridge_cv``) decomposes each fold's
        design once for all its batches.
    **estimator_options
        Options of the estimator (``alphas``, ``inner_cv``, ``backend``,
        ``n_targets_batch``, ``one_se``, ``n_components``, ...); an option the
        estimator does not take is refused, naming the estimator it belongs to.

    Returns
    -------
    EncodingResult
        ``config`` records the estimator's name and parameters,
        ``metadata`` its per-fold choices (``fit_info_``).

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Recording
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> rec = Recording(X @ rng.normal(size=(4, 2)) + rng.normal(size=(300, 2)), sampling_period=2.0)
    >>> res = cross_validate(X, rec, backend="numpy")
    >>> res.r.shape, bool(res.mean_r.min() > 0.5)
    ((5, 2), True)
    """
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    design = as_design(design, recording)
    design.check_matches(recording)
    if baseline is not None:
        base = as_design(baseline, recording)
        base.check_matches(recording)
        design = with_baseline(design, base)
    if estimator is None:
        estimator = DEFAULT_BASELINE_ESTIMATOR if baseline is not None else DEFAULT_ESTIMATOR
    est = make_estimator(estimator, **_seeded(estimator, estimator_options, seed))
    name = estimator_name(est)
    params = est.get_params(deep=False)
    if "standardize" in params:
        est.set_params(standardize=False)  # standardised here, on each outer training set
    if "alphas" in params:
        _alpha_grid(params["alphas"])  # bad alphas fail before any fit
    if min_bands(est) > len(design.bands):
        raise BrainalignInputError(
            f"estimator={name!r} needs a design stacked from several bands with DesignMatrix.stack (the first "
            f"being the baseline) or baseline=; design {design.name!r} has {len(design.bands)} band(s).")
    if pca is not None and (isinstance(pca, bool) or int(pca) < 1 or min_bands(est) > 1
                            or isinstance(est, BandedRidgeEncoder)):
        raise BrainalignInputError(f"pca must be a positive number of components with estimator='ridge', got {pca!r}.")
    if gap_s is None:
        gap_s = default_gap_s(design, recording)
    gap_s = positive_or_zero(gap_s, "gap_s")
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)):
        raise BrainalignInputError(f"n_permutations must be an int >= 0, got {n_permutations!r}.")
    if n_permutations < 0:
        raise BrainalignInputError(f"n_permutations must be >= 0, got {n_permutations}.")
    gap = seconds_to_samples(gap_s, recording.sampling_period)
    runs = np.asarray(recording.runs)
    splitter = resolve_outer_cv(cv, runs, gap, shuffle, seed)
    warnings_list = []
    if shuffle or isinstance(splitter, ShuffledKFold):
        shuffle = True
        warnings_list.append(SHUFFLED_CV_WARNING)
    X = design.X
    Y = recording.data
    n_samples, n_targets = Y.shape
    folds = _outer_folds(splitter, X, runs)
    rng = np.random.default_rng(seed)

    r = np.empty((len(folds), n_targets))
    r2 = np.empty_like(r)
    chosen = np.empty_like(r)
    tests = [te for _, te in folds]
    # drawn before any fit, in fold order, so p-values do not depend on the target batches
    shifts = [draw_shifts(te.size, n_permutations, gap, rng) for te in tests] if n_permutations else None
    p_values = np.empty(n_targets) if n_permutations else None
    predictions = np.full((n_samples, n_targets), np.nan, dtype=np.float32) if return_predictions else None
    # an estimator that fits and scores every target on its own (per_target = True) runs on column
    # batches: each fold's training and test slices of Y are cut one batch at a time, fitted, scored
    # and dropped, so the loop's memory stays under batch_bytes whatever the number of targets (and a
    # memory-mapped recording is only read a batch at a time); others see all targets at once
    width = (targets_batch(n_samples, n_targets, batch_bytes) if getattr(est, "per_target", False)
             else n_targets)
    batches = _column_batches(n_targets, width)
    # loop order: without permutations folds outside, batches inside, so one fold's standardised design
    # (and the estimator's decomposition of it, when it can share one across batches) is alive at a
    # time; the shift test needs every fold's predictions of a batch, so then batches go outside and
    # each fold's preparation is kept for all of them (its size does not depend on the targets)
    fold_outer = not n_permutations
    steps = ([(k, b) for k in range(len(folds)) for b in range(len(batches))] if fold_outer
             else [(k, b) for b in range(len(batches)) for k in range(len(folds))])
    fold_infos: list[list[dict]] = [[] for _ in folds]
    forms = [""] * len(folds)
    bands = tuple(design.bands)
    prepared: dict[int, _PreparedFold] = {}
    pred_b = None
    for k, b in steps:
        cols = batches[b]
        train, test = folds[k]
        if k not in prepared:
            if fold_outer:
                prepared.clear()  # the previous fold is done: free its design and decomposition
            prepared[k] = _prepare_fold(est, params, X, train, test, runs, gap, standardize, pca, bands,
                                        shuffle, seed + k, len(batches), design.name)
        fold = prepared[k]
        logger.debug("%s: fold %d/%d, targets %d-%d (%d train, %d test rows)", design.name, k + 1, len(folds),
                     cols.start, cols.stop, train.size, test.size)
        Ytr = np.asarray(Y[train, cols])  # a memory-mapped Y is read here, one batch at a time
        with warnings.catch_warnings():
            # the alpha-edge check runs once over all folds below, into the result's warnings
            warnings.simplefilter("ignore", UserWarning)
            fitted = fold.fit(Ytr)
        del Ytr
        pred = np.asarray(fitted.predict(fold.Xte))
        pred = pred[:, None] if pred.ndim == 1 else pred
        info = dict(getattr(fitted, "fit_info_", None) or {})
        fold_infos[k].append(info)
        form = getattr(fitted, "form_", None)
        forms[k] = name if form is None else (form if name == "ridge" else f"{name}-{form}")
        Yte = np.asarray(Y[test, cols])
        r[k, cols] = correlation_score(Yte, pred)
        r2[k, cols] = r2_score(Yte, pred)
        chosen[k, cols] = np.asarray(info["alphas"], dtype=float) if "alphas" in info else np.nan
        if predictions is not None:
            predictions[test, cols] = pred
        if n_permutations:
            if k == 0:
                pred_b = np.full((n_samples, cols.stop - cols.start), np.nan, dtype=np.float32)
            pred_b[test] = pred
            if k == len(folds) - 1:
                p_values[cols] = _shift_pvalues(np.asarray(Y[:, cols]), pred_b, tests, r[:, cols].mean(0), shifts)
                pred_b = None
        del Yte, pred, fitted
    prepared.clear()
    infos = [_merge_infos(parts, batches) for parts in fold_infos]

    alphas_grid = _alpha_grid(params.get("alphas")) if "alphas" in params else None
    # a grid that stops above the best penalty is always worth a warning; the top edge is also where
    # targets the design cannot predict end up (most voxels of a whole-brain map), so it is only logged
    if alphas_grid is not None:
        for edges, level in ((("lowest",), logging.WARNING), (("highest",), logging.INFO)):
            edge = alpha_edge_message(chosen, alphas_grid, what="fold-target pairs", edges=edges)
            if edge is not None:
                logger.log(level, "%s: %s", design.name, edge)
                warnings_list.append(edge)
    metadata: dict[str, Any] = {
        "folds": [_fold_ranges(te) for _, te in folds],
        "n_train": [int(tr.size) for tr, _ in folds],
        "warnings": warnings_list,
        "backend": resolve_backend(params.get("backend", "auto") or "auto"),
        "solver_form": sorted(set(forms)),
        "n_features": design.n_features,
        "gap_samples": gap,
        "versions": package_versions(),
        "data_hashes": {"design": hash_array(X), "recording": hash_array(Y)},
        "design_metadata": _jsonable(design.metadata),
        "bands": [{"name": b.name, "n_features": b.n_features, "delays_s": list(b.delays_s)} for b in bands],
        "estimator": {"name": name, "class": f"{type(est).__module__}.{type(est).__qualname__}",
                      "params": _jsonable(est.get_params(deep=False))},
    }
    # every per-target choice of the fits but the penalty (result.alphas), per fold
    for key in sorted({k for info in infos for k in info} - {"alphas", "candidates"}):
        metadata[key] = [_jsonable(np.round(info[key], 4) if key == "layer_weights" else info.get(key), None)
                         for info in infos]
    if all("baseline_alphas" in info for info in infos):
        # a layer fitted given a baseline: how often the layer was switched off (fold x target; its penalty is inf there), the first
        # thing to read when gains are ~0
        metadata["layer_off_fraction"] = float(np.isinf(chosen).mean())
    if n_permutations:
        metadata["p_fdr"] = fdr(p_values).tolist()
    config = {
        "design": design.name,
        "alphas": None if alphas_grid is None else alphas_grid.tolist(),
        "cv": repr(splitter),
        "gap_s": float(gap_s),
        "shuffle": bool(shuffle),
        "n_permutations": int(n_permutations),
        "seed": int(seed),
        "standardize": bool(standardize),
        "pca": None if pca is None else int(pca),
        **{k: v for k, v in _jsonable(params).items() if k not in ("alphas", "standardize", "cv")},
        "estimator": name,
        "baseline": None if baseline is None else "baseline",
        **({"bands": design.band_sizes} if len(bands) > 1 and min_bands(est) > 1 or isinstance(est, BandedRidgeEncoder)
           else {}),
        "scoring": "per-fold pearson r and R2 (test-fold mean), averaged over folds",
    }
    result = EncodingResult(r, r2, chosen, recording.target_names, design.name, recording.subject, model,
                            p_values, config, metadata)
    if return_predictions:
        result.predictions = predictions
        result.folds = tests
    return result


def _seeded(estimator, options: dict, seed: int) -> dict:
    """The estimator's options with ``random_state=seed`` added when it takes one and none is given."""
    if "random_state" in options or not isinstance(estimator, str):
        return options
    if "random_state" in estimator_options(estimator):
        return {**options, "random_state": int(seed)}
    return options


def _outer_folds(splitter, X: np.ndarray, runs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays of the outer splitter (brainalign's or scikit-learn's), runs as groups."""
    try:
        with warnings.catch_warnings():  # "groups is ignored" by KFold & co: expected, runs or not
            warnings.filterwarnings("ignore", message="The groups parameter is ignored")
            folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, None, runs)]
    except ValueError as err:
        if isinstance(err, BrainalignInputError):
            raise
        raise BrainalignInputError(f"The splitter {splitter!r} failed on {X.shape[0]} samples: {err}") from err
    if len(folds) < 2:
        raise BrainalignInputError(f"Cross-validation needs at least 2 folds, {splitter!r} gave {len(folds)}.")
    # test rows in time order (scikit-learn splitters may not sort them): per-fold scores and the block
    # bootstrap read them as a time series
    return [(np.sort(tr), np.sort(te)) for tr, te in folds]


def _shift_pvalues(Y, predictions, tests, observed, shifts, batch_bytes=64 * 2**20):
    """p-values of the fold-averaged r against circularly shifted test predictions.

    ``shifts``: one set per fold, shared by all targets (keeps their spatial
    correlation); targets in batches so memory stays at ~one (n_perm, batch) block.
    """
    n_targets = Y.shape[1]
    batch = max(1, int(batch_bytes // (8 * max(shifts[0].size, max(te.size for te in tests)))))
    p = np.empty(n_targets)
    for start in range(0, n_targets, batch):
        cols = slice(start, min(n_targets, start + batch))
        null = sum(circular_shift_null(Y[te, cols], predictions[te, cols], sh) for te, sh in zip(tests, shifts))
        p[cols] = permutation_pvalues(observed[cols], null / len(tests))
    return p


#: bytes the outer cross-validation loop may hold for one batch of targets (training and test
#: slices of the recording, predictions and score temporaries), on top of the solver's own budget
#: (:func:`working_set_batch`): a worker's memory for the loop does not grow with the voxel count
TARGETS_BATCH_BYTES = 256 * 2**20


def targets_batch(n_samples: int, n_targets: int, batch_bytes: int | None = None) -> int:
    """Targets per outer batch: ~4 float64 columns of ``n_samples`` per target within ``batch_bytes``.

    At least 2 (a lone column would be reduced in another summation order,
    see :func:`_column_batches`).

    Examples
    --------
    >>> targets_batch(3000, 70000, 96 * 2**20)
    1048
    """
    budget = TARGETS_BATCH_BYTES if batch_bytes is None else int(batch_bytes)
    if budget < 1:
        raise BrainalignInputError(f"batch_bytes must be a positive number of bytes, got {batch_bytes!r}.")
    return int(max(2, min(n_targets, budget // (4 * 8 * max(n_samples, 1)))))


def _column_batches(n_targets: int, width: int) -> list[slice]:
    """Consecutive column slices of ``width`` targets; a last one of a single column joins the previous
    one, since numpy sums a lone column pairwise instead of row by row and scores would change bits."""
    starts = list(range(0, n_targets, max(1, width)))
    if len(starts) > 1 and n_targets - starts[-1] == 1:
        starts.pop()
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [n_targets])]


def _merge_infos(parts: list[dict], batches: list[slice]) -> dict:
    """One fold's ``fit_info_`` from its target batches: per-target arrays joined along their last axis,
    anything else taken from the first batch."""
    if len(parts) == 1:
        return parts[0]
    merged = dict(parts[0])
    widths = [c.stop - c.start for c in batches]
    for key, value in parts[0].items():
        arrays = [np.asarray(part.get(key)) for part in parts]
        if all(a.ndim >= 1 and a.shape[-1] == w for a, w in zip(arrays, widths)):
            merged[key] = np.concatenate(arrays, axis=-1)
    return merged


class _PreparedFold:
    """One outer fold's standardised (or PCA-reduced) design, and how to fit a target batch on it."""

    def __init__(self, est, Xtr, Xte, bands, groups, gap, n_batches):
        self.est, self.Xtr, self.Xte, self.bands, self.groups, self.gap = est, Xtr, Xte, bands, groups, gap
        # an estimator that can decompose the training design once and solve many target batches on it
        # (RidgeEncoder with a ridge core offering prepare_ridge_cv) saves a decomposition per batch
        batch_fitter = getattr(est, "_batch_fitter", None) if n_batches > 1 else None
        self._fit_batch = batch_fitter(Xtr, groups=groups, gap=gap) if batch_fitter is not None else None

    def fit(self, Ytr: np.ndarray):
        if self._fit_batch is not None:
            return self._fit_batch(Ytr)
        return clone(self.est).fit(self.Xtr, Ytr, bands=self.bands, groups=self.groups, gap=self.gap)


def _prepare_fold(est, params, X, train, test, runs, gap, standardize, pca, bands, shuffle, seed,
                  n_batches, design_name) -> _PreparedFold:
    """Standardise (and reduce) the design on one outer fold's training rows; the estimator to fit there."""
    scaler = Standardizer(with_std=standardize).fit(X[train])
    Xtr, Xte = scaler.transform(X[train]), scaler.transform(X[test])
    fold_bands = bands
    if pca is not None:
        Xtr, Xte = _pca_reduce(Xtr, Xte, pca)
        fold_bands = (Band(design_name, Xtr.shape[1]),)
    fold_est = clone(est)
    if shuffle and "inner_cv" in params and isinstance(params["inner_cv"], (int, np.integer)):
        # shuffled inner folds too, as the outer ones (a demonstration of the leak)
        fold_est.set_params(inner_cv=inner_splits(train, runs, params["inner_cv"], gap, shuffle=True, seed=seed))
    return _PreparedFold(fold_est, Xtr, Xte, fold_bands, contiguity_groups(train, runs), gap, n_batches)


def _pca_reduce(Xtr: np.ndarray, Xte: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Project on the top principal components of the training rows (fitted there only)."""
    mean = Xtr.mean(0)
    _, _, Vt = np.linalg.svd(Xtr - mean, full_matrices=False)
    components = Vt[: int(n_components)].T
    return ((Xtr - mean) @ components).astype(np.float32), ((Xte - mean) @ components).astype(np.float32)


def _jsonable(obj, max_array_size: int | None = 1000):
    """JSON-friendly copy of a config or metadata (anything else becomes its repr).

    Arrays become lists, or their shape and hash when larger than ``max_array_size``
    (``None``: always lists).
    """
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, max_array_size) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, max_array_size) for v in obj]
    if isinstance(obj, np.ndarray):
        if max_array_size is None or obj.size <= max_array_size:
            return obj.tolist()
        return {"shape": list(obj.shape), "sha256": hash_array(obj)}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)
