"""Identification accuracy from cross-validated predictions: pairwise 2-vs-2 and top-k retrieval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, EncodingResult, Recording
from ._resample import as_float_array, bootstrap_score

METRICS = ("correlation", "cosine", "euclidean")


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = as_float_array(y_true, "y_true"), as_float_array(y_pred, "y_pred")
    if y_true.shape != y_pred.shape or y_true.ndim != 2 or y_true.shape[0] < 3:
        raise BrainalignInputError(
            f"y_true and y_pred must both be (n_stimuli >= 3, n_targets), got {y_true.shape} and {y_pred.shape}."
        )
    return y_true, y_pred


def _distances(y_true: np.ndarray, y_pred: np.ndarray, metric: str) -> np.ndarray:
    """D[i, j] = distance between the observed response to stimulus i and the prediction for stimulus j."""
    from scipy.spatial.distance import cdist

    if metric not in METRICS:
        raise BrainalignInputError(f"metric={metric!r} is not one of {METRICS}.")
    with np.errstate(invalid="ignore", divide="ignore"):
        D = cdist(y_true, y_pred, metric=metric)
    return np.nan_to_num(D, nan=2.0)


def _two_vs_two_per_stimulus(D: np.ndarray) -> np.ndarray:
    """Mean correctness of the pairs each stimulus is part of (their mean is the 2-vs-2 accuracy)."""
    d = np.diag(D)
    match = d[:, None] + d[None, :]
    swap = D + D.T
    correct = (match < swap) + 0.5 * (match == swap)
    np.fill_diagonal(correct, 0.0)
    return correct.sum(1) / (D.shape[0] - 1)


def _top_k_per_stimulus(D: np.ndarray, k: int) -> np.ndarray:
    own = np.diag(D)
    rank = (D < own[None, :]).sum(0)  # column j: how many other responses are closer to prediction j
    return (rank < k).astype(float)


def two_vs_two(y_true, y_pred, *, metric: str = "correlation") -> float:
    """2-vs-2 accuracy: over all stimulus pairs, how often matching predictions are closer than swapped ones.

    Pair ``(i, j)`` is correct when ``d(y_i, p_i) + d(y_j, p_j) < d(y_i, p_j) + d(y_j, p_i)``
    (ties count one half).  Chance is 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.random.default_rng(0).normal(size=(20, 5))
    >>> two_vs_two(Y, Y + 0.1)
    1.0
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(_two_vs_two_per_stimulus(_distances(y_true, y_pred, metric)).mean())


def top_k_accuracy(y_true, y_pred, *, k: int = 1, metric: str = "correlation") -> float:
    """Fraction of predictions whose own stimulus is among the ``k`` observed responses closest to it.

    Chance is ``k / n_stimuli``.

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.random.default_rng(0).normal(size=(20, 5))
    >>> top_k_accuracy(Y, Y + 0.1, k=1)
    1.0
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= y_true.shape[0]:
        raise BrainalignInputError(f"k must be an int in [1, {y_true.shape[0]}], got {k!r}.")
    return float(_top_k_per_stimulus(_distances(y_true, y_pred, metric), k).mean())


def identification_scores(y_true, y_pred=None, *, ks=(1, 5), metric: str = "correlation", groups=None,
                          n_bootstraps: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """2-vs-2 and top-k identification accuracy with bootstrap intervals and chance levels.

    Parameters
    ----------
    y_true : ndarray (n_stimuli, n_targets), or an EncodingResult with ``predictions``
    y_pred : ndarray or Recording
        The predictions; with an EncodingResult first, the Recording it was
        fitted on (its rows are the observed responses).  Cross-validated
        predictions (each row predicted by a model that never saw it) are what
        make the accuracy an out-of-sample score.
    groups : labels per stimulus (runs, blocks) resampled whole by the bootstrap.

    Returns
    -------
    pandas.DataFrame
        ``score`` (``"2v2"``, ``"top-1"``, ...), ``accuracy``, ``ci_low``,
        ``ci_high``, ``chance``, ``n_stimuli``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(40, 10))
    >>> table = identification_scores(Y, Y + rng.normal(size=Y.shape), ks=(1,), n_bootstraps=50)
    >>> table["score"].tolist(), bool((table["ci_low"] > table["chance"]).all())
    (['2v2', 'top-1'], True)
    """
    if isinstance(y_true, EncodingResult):
        result, recording = y_true, y_pred
        if getattr(result, "predictions", None) is None:
            raise BrainalignInputError(
                "The EncodingResult has no predictions; cross-validate with return_predictions=True."
            )
        if not isinstance(recording, Recording):
            raise BrainalignInputError(
                "With an EncodingResult, pass the Recording it was fitted on as the second argument."
            )
        y_true, y_pred = recording.data, result.predictions
    y_true, y_pred = _pair(y_true, y_pred)
    n = y_true.shape[0]
    D = _distances(y_true, y_pred, metric)
    # every stimulus is scored against all candidates once; the bootstrap resamples those per-stimulus
    # scores (whole groups), so the candidate set -- and the chance level -- stays that of the full data
    per_stimulus = [("2v2", _two_vs_two_per_stimulus(D), 0.5)]
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise BrainalignInputError(f"ks must hold ints in [1, {n}], got {k!r}.")
        per_stimulus.append((f"top-{int(k)}", _top_k_per_stimulus(D, int(k)), int(k) / n))
    rows = []
    for name, values, chance in per_stimulus:
        out = bootstrap_score(np.mean, [values], groups=groups, n_bootstraps=n_bootstraps, ci=ci, seed=seed)
        rows.append({"score": name, "accuracy": out["score"], "ci_low": out["ci_low"], "ci_high": out["ci_high"],
                     "chance": chance, "n_stimuli": n})
    return pd.DataFrame(rows)
