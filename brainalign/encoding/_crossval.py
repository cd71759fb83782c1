"""Outer cross-validation of a design against a recording, scored fold by fold."""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np

from ..core import BrainalignInputError, DesignMatrix, EncodingResult, Recording, hash_array
from ..core import package_versions as _core_package_versions
from ..core._validation import as_float_array, positive_or_zero
from ._backend import resolve_backend, using_backend
from ._cv import SHUFFLED_CV_WARNING, ShuffledKFold, inner_splits, resolve_outer_cv
from ._sklearn_api import Standardizer, _alpha_grid, alpha_edge_message
from ._solvers import solve_ridge_cv
from ._stats import circular_shift_null, correlation_score, draw_shifts, fdr, permutation_pvalues, r2_score

ESTIMATORS = ("ridge", "pcr", "stacked", "banded")
#: how a layer is combined with a baseline unless the caller says otherwise (sweep_layers, the gain
#: test, studies, ``brainalign encode``); the evidence is in benchmarks/alice_gains_investigation.py
DEFAULT_BASELINE_ESTIMATOR = "pcr"
#: options of cross_validate that only mean something for a design of several bands
_MULTI_BAND_OPTIONS = ("one_se", "n_components", "gate_se")


def single_band_options(cv_kwargs: dict) -> dict:
    """``cross_validate`` options for a design of one band (a baseline alone): plain ridge.

    The layer + baseline fits and the baseline's own fit share every other
    option (folds, alphas, seed), so their scores are paired.
    """
    if cv_kwargs.get("estimator", "ridge") == "ridge":
        return dict(cv_kwargs)
    return {**{k: v for k, v in cv_kwargs.items() if k not in _MULTI_BAND_OPTIONS}, "estimator": "ridge"}

logger = logging.getLogger("brainalign.encoding")

#: default gap for fMRI: the canonical HRF returns to baseline after ~20 s
FMRI_GAP_S = 20.0
#: default gap for M/EEG without lag metadata: a typical TRF window
MEEG_GAP_S = 1.0


def default_gap_s(design: DesignMatrix, recording: Recording) -> float:
    """Seconds of history a sample shares with its neighbours through the design.

    Uses the design's delays / lags when present (``metadata["delays_s"]``,
    ``["lags_s"]``, ``["delays"]``, ``["lags"]`` in seconds, or
    ``["delays_samples"]`` / ``["lags_samples"]``), otherwise ~20 s (HRF length) for fMRI/ROI data and 1 s (TRF
    length) for M/EEG.
    """
    if not isinstance(design, DesignMatrix) or not isinstance(recording, Recording):
        raise BrainalignInputError(
            f"default_gap_s needs a DesignMatrix and a Recording, got {type(design).__name__} and "
            f"{type(recording).__name__}."
        )
    meta = design.metadata or {}
    spans = []
    for key in ("delays_s", "lags_s", "delays", "lags"):  # seconds
        if meta.get(key) is not None and len(np.atleast_1d(meta[key])) > 0:
            spans.append(float(np.max(np.abs(np.asarray(meta[key], dtype=float)))))
    for key in ("delays_samples", "lags_samples"):
        if meta.get(key) is not None and len(np.atleast_1d(meta[key])) > 0:
            spans.append(float(np.max(np.abs(np.asarray(meta[key], dtype=float)))) * design.sampling_period)
    is_fmri = recording.kind in ("fmri", "roi") or (recording.kind == "other" and recording.sampling_period >= 0.5)
    if is_fmri:
        base = FMRI_GAP_S
        return max([base] + [s + recording.sampling_period for s in spans])
    return max(spans) if spans else MEEG_GAP_S


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


def cross_validate(
    design,
    recording: Recording,
    *,
    alphas=None,
    cv="auto",
    gap_s: float | None = None,
    inner_cv: int = 5,
    shuffle: bool = False,
    n_permutations: int = 0,
    seed: int = 0,
    backend: str = "auto",
    model: str = "",
    standardize: bool = True,
    n_targets_batch: int | None = None,
    solver: str = "auto",
    estimator: str = "ridge",
    n_iter: int = 20,
    one_se: float = 1.0,
    n_components="auto",
    gate_se: float = 1.0,
    pca: int | None = None,
    return_predictions: bool = False,
) -> EncodingResult:
    """Cross-validated ridge encoding of ``recording`` from ``design``, scored per test fold.

    Outer folds: leave-one-run-out when the recording has several runs,
    otherwise 5 contiguous blocks with ``gap_s`` seconds removed from the
    training data on each side of the test block.  In every outer fold the
    design is standardised on the training rows, per-target alphas are chosen
    by ``inner_cv`` contiguous inner folds of the training rows only, and r and
    R^2 are computed on that fold's test rows; the result holds per-fold scores
    (their mean is the headline), never scores of predictions concatenated
    across folds.

    Parameters
    ----------
    design : DesignMatrix or ndarray (n_samples, n_features)
    recording : Recording
    alphas : array-like or None
        Candidate penalties (default ``np.logspace(-1, 7, 17)``).
    cv : "auto", int or splitter
        An int gives that many contiguous blocks; a splitter needs
        ``split(n_samples, runs)`` yielding (train, test) indices.
    gap_s : float or None
        Seconds dropped around each test block (default from the design's
        delays/lags, else ~20 s for fMRI, 1 s for M/EEG).
    inner_cv : int
        Contiguous inner folds (with the same gap) for choosing alphas.
    shuffle : bool
        Shuffled K-fold instead (inflates scores with autocorrelated data; a
        warning is logged and stored in ``result.metadata["warnings"]``).
    n_permutations : int
        Circular-shift permutations of the test predictions for per-target
        p-values (``result.p_values``; FDR-adjusted in ``metadata["p_fdr"]``).
    seed : int
    backend : {"auto", "numpy", "cpu", "torch", "torch_cuda"}
    model : str
        Model label carried into the result.
    estimator : {"ridge", "pcr", "stacked", "banded"}
        For a design stacked by ``DesignMatrix.stack`` from several bands
        (``metadata["n_features"]``), the first band being the baseline
        regressors: ``"pcr"`` fits the baseline by ridge, then the top ``k``
        principal components of the other bands (fitted on the training rows)
        by ridge on the baseline's training residual, ``k`` chosen per target
        by inner CV among ``n_components`` and 0 (no layer), and weights the
        layer's prediction by how clearly it beats "no layer": 0 up to
        ``gate_se`` standard errors (the larger of those over blocks of
        ``gap`` validation rows and over the inner folds), 1 from
        ``gate_se + 1`` on; ``"stacked"`` fits the baseline by ridge, then the other
        bands by ridge on the baseline's training residual, with "layer off"
        (infinite penalty) among the candidates and the one-standard-error
        rule (``one_se``); ``"banded"`` fits :class:`BandedRidgeEncoder` (one
        penalty per band, ``n_iter`` random band weightings).  ``"pcr"``
        is what :func:`sweep_layers` uses with a baseline: on the Alice data
        it keeps pure-noise layers within noise of the baseline where
        ``"banded"``, ``"ridge"`` and a fixed PCA-10 do not, and gains in
        every ROI where PCA-10 does (see the encoding guide).  With
        ``"pcr"`` and ``"stacked"``, ``result.alphas`` holds the layer's
        penalty (``inf`` = layer off) and ``metadata["baseline_alphas"]`` the
        baseline's; with ``"pcr"``, ``metadata["n_components"]`` holds the
        chosen ``k`` per fold and target (0 = layer off) and
        ``metadata["layer_weights"]`` the gate's weights.
    one_se : float
        ``estimator="stacked"``: the layer's penalty is the largest candidate
        (off included) whose inner-CV error is within ``one_se`` paired
        standard errors of the best one; 0 takes the lowest error.
    n_components : "auto" or list of int
        ``estimator="pcr"``: candidate numbers of layer components; "auto" is
        2, 5, 10, 20, 50, ... up to a tenth of the training rows.
    gate_se : float
        ``estimator="pcr"``: standard errors by which the layer must beat "no
        layer" in the inner CV before it gets any weight (full weight at
        ``gate_se + 1``).
    pca : int or None
        Reduce the design to this many principal components, fitted on each
        outer fold's training rows only (``estimator="ridge"``).
    return_predictions : bool
        Attach ``result.predictions`` (n_samples, n_targets; NaN where a row
        was never tested) and ``result.folds`` (list of test indices).

    Returns
    -------
    EncodingResult

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
    alphas_arr = _alpha_grid(alphas)
    if gap_s is None:
        gap_s = default_gap_s(design, recording)
    gap_s = positive_or_zero(gap_s, "gap_s")
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)):
        raise BrainalignInputError(f"n_permutations must be an int >= 0, got {n_permutations!r}.")
    gap = int(math.ceil(gap_s / recording.sampling_period - 1e-9))
    runs = np.asarray(recording.runs)
    splitter = resolve_outer_cv(cv, runs, gap, shuffle, seed)
    warnings_list = []
    if shuffle or isinstance(splitter, ShuffledKFold):
        shuffle = True
        warnings_list.append(SHUFFLED_CV_WARNING)
    backend_name = resolve_backend(backend)
    if estimator not in ESTIMATORS:
        raise BrainalignInputError(f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}, got {estimator!r}.")
    if estimator == "pcr":
        from ._pcr import check_options

        n_components = check_options(n_components, gate_se)
    if not (np.isfinite(one_se) and one_se >= 0):
        raise BrainalignInputError(f"one_se must be a number of standard errors >= 0, got {one_se!r}.")
    band_sizes = None
    if pca is not None and (int(pca) < 1 or estimator != "ridge"):
        raise BrainalignInputError(f"pca must be a positive number of components with estimator='ridge', got {pca!r}.")
    if estimator in ("banded", "stacked", "pcr"):
        band_sizes = list(design.metadata.get("n_features") or [])
        if len(band_sizes) < 2 or sum(band_sizes) != design.n_features:
            raise BrainalignInputError(
                f"estimator={estimator!r} needs a design stacked from several bands with DesignMatrix.stack; "
                f"design {design.name!r} has no band sizes in metadata['n_features']."
            )
    X = design.X
    Y = recording.data
    n_samples, n_targets = Y.shape
    folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(n_samples, runs)]
    if len(folds) < 2:
        raise BrainalignInputError(f"Cross-validation needs at least 2 folds, {splitter!r} gave {len(folds)}.")
    rng = np.random.default_rng(seed)

    r = np.empty((len(folds), n_targets))
    r2 = np.empty_like(r)
    chosen = np.empty_like(r)
    if n_permutations < 0:
        raise BrainalignInputError(f"n_permutations must be >= 0, got {n_permutations}.")
    keep_predictions = return_predictions or n_permutations > 0
    predictions = np.full((n_samples, n_targets), np.nan, dtype=np.float32) if keep_predictions else None
    forms = []
    baseline_alphas = []
    layer_components = []
    layer_weights = []
    with using_backend(backend_name) as bk:
        for k, (train, test) in enumerate(folds):
            logger.debug("%s: fold %d/%d (%d train, %d test rows)", design.name, k + 1, len(folds),
                        train.size, test.size)
            scaler = Standardizer(with_std=standardize).fit(X[train])
            Xtr, Xte = scaler.transform(X[train]), scaler.transform(X[test])
            if pca is not None:
                Xtr, Xte = _pca_reduce(Xtr, Xte, pca)
            splits = inner_splits(train, runs, inner_cv, gap, shuffle=shuffle, seed=seed + k)
            if estimator in ("pcr", "stacked"):
                # both fit the baseline first, then the layer (or nothing) on its training residual
                if estimator == "pcr":
                    from ._pcr import gated_pcr_predict as combine

                    options = dict(n_components=n_components, gate_se=gate_se, block=max(gap, 1))
                else:
                    from ._stacked import stacked_ridge_predict as combine

                    options = dict(one_se=one_se)
                nb = band_sizes[0]
                out = combine(Xtr[:, :nb], Xtr[:, nb:], Y[train], Xte[:, :nb], Xte[:, nb:], splits, alphas_arr,
                              n_targets_batch=n_targets_batch, backend=bk, **options)
                out["best_alphas"] = out["layer_alphas"]
                baseline_alphas.append(out["baseline_alphas"].tolist())
                if estimator == "pcr":
                    layer_components.append(out["n_components"].tolist())
                    layer_weights.append(np.round(out["layer_weights"], 4).tolist())
                pred = out["predictions"]
            elif band_sizes is not None:
                from ._banded import BandedRidgeEncoder

                enc = BandedRidgeEncoder(alphas_arr, n_iter=n_iter, cv=splits, standardize=False,
                                         backend=backend_name, solver=solver, random_state=seed,
                                         n_targets_batch=n_targets_batch, band_sizes=band_sizes)
                with warnings.catch_warnings():
                    # the alpha-edge check runs once over all folds below, into the result's warnings
                    warnings.simplefilter("ignore", UserWarning)
                    enc.fit(Xtr, Y[train])
                out = {"form": f"banded-{enc.form_}", "best_alphas": enc.best_alphas_}
                pred = enc.predict(Xte)
            else:
                out = solve_ridge_cv(Xtr, Y[train], alphas_arr, splits, X_test=Xte, return_weights=False,
                                     n_targets_batch=n_targets_batch, form=solver, backend=bk)
                pred = out["predictions"]
            forms.append(out["form"])
            r[k] = correlation_score(Y[test], pred)
            r2[k] = r2_score(Y[test], pred)
            chosen[k] = out["best_alphas"]
            if predictions is not None:
                predictions[test] = pred

    # a grid that stops above the best penalty is always worth a warning; the top edge is also where
    # targets the design cannot predict end up (most voxels of a whole-brain map), so it is only logged
    for edges, level in ((("lowest",), logging.WARNING), (("highest",), logging.INFO)):
        edge = alpha_edge_message(chosen, alphas_arr, what="fold-target pairs", edges=edges)
        if edge is not None:
            logger.log(level, "%s: %s", design.name, edge)
            warnings_list.append(edge)
    p_values = None
    metadata: dict[str, Any] = {
        "folds": [_fold_ranges(te) for _, te in folds],
        "n_train": [int(tr.size) for tr, _ in folds],
        "warnings": warnings_list,
        "backend": backend_name,
        "solver_form": sorted(set(forms)),
        "n_features": design.n_features,
        "gap_samples": gap,
        "versions": package_versions(),
        "data_hashes": {"design": hash_array(X), "recording": hash_array(Y)},
        "design_metadata": _jsonable(design.metadata),
    }
    if estimator in ("stacked", "pcr"):
        metadata["baseline_alphas"] = baseline_alphas
        # how often the layer was switched off (fold x target; its penalty is inf there), the first
        # thing to read when gains are ~0
        metadata["layer_off_fraction"] = float(np.isinf(chosen).mean())
    if estimator == "pcr":
        metadata["n_components"] = layer_components
        metadata["layer_weights"] = layer_weights
    if n_permutations:
        p_values = _shift_pvalues(Y, predictions, [te for _, te in folds], r.mean(0), n_permutations, gap, rng)
        metadata["p_fdr"] = fdr(p_values).tolist()
    config = {
        "design": design.name,
        "alphas": alphas_arr.tolist(),
        "cv": repr(splitter),
        "gap_s": float(gap_s),
        "inner_cv": int(inner_cv),
        "shuffle": bool(shuffle),
        "n_permutations": int(n_permutations),
        "seed": int(seed),
        "standardize": bool(standardize),
        "solver": solver,
        "estimator": estimator,
        "pca": None if pca is None else int(pca),
        **({"n_iter": int(n_iter), "bands": band_sizes} if estimator == "banded" else {}),
        **({"one_se": float(one_se), "bands": band_sizes} if estimator == "stacked" else {}),
        **({"n_components": n_components, "gate_se": float(gate_se), "bands": band_sizes}
           if estimator == "pcr" else {}),
        "scoring": "per-fold pearson r and R2 (test-fold mean), averaged over folds",
    }
    result = EncodingResult(r, r2, chosen, recording.target_names, design.name, recording.subject, model,
                            p_values, config, metadata)
    if return_predictions:
        result.predictions = predictions
        result.folds = [te for _, te in folds]
    return result


def _shift_pvalues(Y, predictions, tests, observed, n_permutations, gap, rng, batch_bytes=64 * 2**20):
    """p-values of the fold-averaged r against circularly shifted test predictions.

    One set of shifts per fold, shared by all targets (keeps their spatial
    correlation); targets in batches so memory stays at ~one (n_perm, batch) block.
    """
    shifts = [draw_shifts(te.size, n_permutations, gap, rng) for te in tests]
    n_targets = Y.shape[1]
    batch = max(1, int(batch_bytes // (8 * max(n_permutations, max(te.size for te in tests)))))
    p = np.empty(n_targets)
    for start in range(0, n_targets, batch):
        cols = slice(start, min(n_targets, start + batch))
        null = sum(circular_shift_null(Y[te, cols], predictions[te, cols], sh) for te, sh in zip(tests, shifts))
        p[cols] = permutation_pvalues(observed[cols], null / len(tests))
    return p


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
