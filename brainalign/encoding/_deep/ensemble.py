"""Ensembles of trainable encoders (softmax of validation r per target) and cross-subject cross-validation."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from ...core import BrainalignInputError, DesignMatrix, EncodingResult, Recording, hash_array
from .._cv import contiguity_groups, resolve_outer_cv
from .._sklearn_api import EncoderNotFittedError
from .._stats import correlation_score, r2_score

logger = logging.getLogger("brainalign.encoding")


class SoftmaxEnsembleEncoder(BaseEstimator):
    """Several trainable encoders (seeds / configurations) averaged per target with softmax(validation r / T).

    Each member is fitted on the same rows with the same inner validation
    block (members must share ``val_fraction``; checked); the weights come from
    the members' validation r only, never from test rows (TRIBE uses T = 0.3).

    Parameters
    ----------
    estimators : list of estimators
        Unfitted members exposing ``validation_r_`` and ``validation_rows_`` after ``fit``.
    temperature : float

    Attributes
    ----------
    estimators_ : list of fitted members
    weights_ : ndarray (n_members, n_targets)
    fit_info_ : dict with ``weights`` and ``validation_r`` (members x targets)

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.encoding import TemporalTransformerEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)).astype("float32"); Y = X[:, :1] + 0.1 * rng.normal(size=(200, 1))
    >>> members = [TemporalTransformerEncoder(width=8, depth=1, n_heads=2, window=8, max_epochs=2,
    ...                                       random_state=s)
    ...            for s in (0, 1)]
    >>> SoftmaxEnsembleEncoder(members).fit(X, Y).weights_.shape
    (2, 1)
    """

    def __init__(self, estimators, *, temperature=0.3):
        self.estimators = estimators
        self.temperature = temperature

    def fit(self, X, Y, *, bands=None, groups=None, gap=0) -> "SoftmaxEnsembleEncoder":
        if not self.estimators:
            raise BrainalignInputError("SoftmaxEnsembleEncoder needs at least one estimator.")
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise BrainalignInputError(f"temperature must be > 0, got {self.temperature!r}.")
        self.estimators_ = [clone(e).fit(X, Y, bands=bands, groups=groups, gap=gap) for e in self.estimators]
        rows = [np.asarray(e.validation_rows_) for e in self.estimators_]
        if any(r.shape != rows[0].shape or np.any(r != rows[0]) for r in rows[1:]):
            raise BrainalignInputError(
                "Ensemble members validated on different rows; give every member the same val_fraction."
            )
        val = np.stack([np.asarray(e.validation_r_, dtype=float) for e in self.estimators_])
        logits = val / float(self.temperature)
        logits -= logits.max(0, keepdims=True)
        w = np.exp(logits)
        self.weights_ = w / w.sum(0, keepdims=True)
        self.fit_info_ = {"weights": self.weights_, "validation_r": val,
                          "ensemble_validation_r": (self.weights_ * val).sum(0)}
        return self

    def predict(self, X) -> np.ndarray:
        if not hasattr(self, "weights_"):
            raise EncoderNotFittedError("SoftmaxEnsembleEncoder is not fitted yet; call fit first.")
        return sum(w[None] * e.predict(X) for w, e in zip(self.weights_, self.estimators_)).astype(np.float32)


def _design_array(design, recording: Recording, subject) -> np.ndarray:
    X = design.X if isinstance(design, DesignMatrix) else design
    if not hasattr(X, "shape") or len(X.shape) != 2 or X.shape[0] != recording.n_samples:
        raise BrainalignInputError(
            f"design of subject {subject!r} must be (n_samples={recording.n_samples}, n_features), got "
            f"{getattr(X, 'shape', type(X).__name__)}."
        )
    return X


def cross_validate_subjects(designs: dict, recordings: dict, estimator, *, cv="auto", gap_s: float | None = None,
                            bands=None, model: str = "", seed: int = 0,
                            return_predictions: bool = False) -> dict[str, EncodingResult]:
    """Outer cross-validation of one model trained across subjects, scored per subject.

    Each subject's runs are split by ``cv`` (as in
    :func:`brainalign.encoding.cross_validate`: leave-one-run-out by default);
    in fold ``k`` the estimator is fitted (``fit_subjects``) on the training
    rows of *every* subject and scored on each subject's fold-``k`` test rows
    (per-fold Pearson r and R^2).  A subject with fewer folds than others
    contributes all of its rows to training in the extra folds.

    Parameters
    ----------
    designs : dict subject -> DesignMatrix or (n_samples, n_features) array
    recordings : dict subject -> Recording
    estimator : TemporalTransformerEncoder (or anything with fit_subjects / predict_subject)
    cv : "auto", int or splitter
    gap_s : float or None
        Seconds dropped around inner validation blocks (default 20 s: one HRF, for fMRI).
    bands : tuple of bands or None
    model : str
    return_predictions : bool
        Attach ``predictions`` (n_samples, n_targets; NaN where never tested)
        and ``folds`` (test rows) to each result, as ``cross_validate`` does.

    Returns
    -------
    dict subject -> EncodingResult
        ``alphas`` are NaN (no penalty); ``metadata["validation_r"]`` holds each
        fold's inner validation r per target.
    """
    if not hasattr(estimator, "fit_subjects"):
        raise BrainalignInputError(f"{type(estimator).__name__} has no fit_subjects; use a TemporalTransformerEncoder.")
    if set(designs) != set(recordings) or not designs:
        raise BrainalignInputError(f"designs and recordings need the same subjects, got {sorted(designs)} and "
                                   f"{sorted(recordings)}.")
    subjects = list(recordings)
    arrays = {s: _design_array(designs[s], recordings[s], s) for s in subjects}
    period = recordings[subjects[0]].sampling_period
    gap = int(math.ceil((20.0 if gap_s is None else float(gap_s)) / period - 1e-9))
    folds = {}
    for s in subjects:
        runs = np.asarray(recordings[s].runs)
        splitter = resolve_outer_cv(cv, runs, gap, False, seed)
        folds[s] = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(recordings[s].n_samples, None, runs)]
    n_folds = max(len(f) for f in folds.values())
    scores: dict[str, dict[str, list]] = {s: {"r": [], "r2": [], "val": [], "folds": []} for s in subjects}
    predictions = {s: np.full(recordings[s].data.shape, np.nan, dtype=np.float32) for s in subjects}
    for k in range(n_folds):
        train_x, train_y, train_g = {}, {}, {}
        for s in subjects:
            rec = recordings[s]
            tr = folds[s][k][0] if k < len(folds[s]) else np.arange(rec.n_samples)
            # fancy indexing copies only this subject's training rows (a memory map stays on disk otherwise)
            # groups = run and contiguous piece: a test block cut out of a run splits it in two for the windows
            train_x[s], train_y[s] = arrays[s][tr], rec.data[tr]
            train_g[s] = contiguity_groups(tr, np.asarray(rec.runs))
        logger.info("cross_validate_subjects: fold %d/%d (%d subjects)", k + 1, n_folds, len(subjects))
        fitted = clone(estimator).fit_subjects(train_x, train_y, train_g, bands=bands, gap=gap)
        for s in subjects:
            if k >= len(folds[s]):
                continue
            te = folds[s][k][1]
            pred = fitted.predict_subject(s, arrays[s][te], np.asarray(recordings[s].runs)[te])
            y = recordings[s].data[te]
            predictions[s][te] = pred
            scores[s]["r"].append(correlation_score(y, pred))
            scores[s]["r2"].append(r2_score(y, pred))
            scores[s]["val"].append(np.round(fitted.validation_r_[s], 4).tolist())
            scores[s]["folds"].append(te)
    params = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
              for k, v in estimator.get_params().items()}
    results = {}
    for s in subjects:
        rec, sc = recordings[s], scores[s]
        r = np.stack(sc["r"])
        config: dict[str, Any] = {"estimator": type(estimator).__name__, "params": params, "cv": repr(cv),
                                  "gap_samples": gap, "subjects": subjects, "seed": int(seed),
                                  "scoring": "per-fold pearson r and R2 (test-fold mean), averaged over folds"}
        metadata = {"validation_r": sc["val"], "folds": [[int(te[0]), int(te[-1]) + 1] for te in sc["folds"]],
                    "data_hashes": {"recording": hash_array(np.asarray(rec.data))}, "warnings": []}
        name = designs[s].name if isinstance(designs[s], DesignMatrix) else "features"
        results[s] = EncodingResult(r, np.stack(sc["r2"]), np.full_like(r, np.nan), rec.target_names, name,
                                    rec.subject, model, None, config, metadata)
        if return_predictions:
            results[s].predictions, results[s].folds = predictions[s], list(sc["folds"])
    return results
