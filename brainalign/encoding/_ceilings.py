"""Noise ceilings: how much of a target's signal any model could explain."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, Recording
from ..core.validation import as_float_array
from ._stats import correlation_score


def explainable_variance(repeats, *, bias_correction: bool = True) -> np.ndarray:
    """Share of each target's variance that repeats of the same stimulus have in common.

    ``ev = 1 - mean_r var(y_r - mean(y)) / mean_r var(y_r)`` with the usual
    small-sample correction ``ev - (1 - ev) / (n_repeats - 1)``.  It bounds
    the R^2 of any encoding model; ``sqrt(ev)`` bounds its correlation.

    Parameters
    ----------
    repeats : array-like, shape (n_repeats, n_samples, n_targets), or a sequence of
        Recordings of the same stimulus (same shape)
    bias_correction : bool

    Returns
    -------
    ndarray, shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=(500, 1))
    >>> reps = np.stack([signal + rng.normal(size=(500, 1)) for _ in range(4)])
    >>> round(float(explainable_variance(reps)[0]), 1)  # signal variance / total = 0.5
    0.5
    """
    data = _stack(repeats, "repeats")
    n_repeats = data.shape[0]
    if n_repeats < 2:
        raise BrainalignInputError(f"Explainable variance needs at least 2 repeats, got {n_repeats}.")
    mean = data.mean(0)
    total = data.var(axis=1).mean(0)
    residual = (data - mean[None]).var(axis=1).mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = np.where(total > 0, 1.0 - residual / total, 0.0)
    if bias_correction:
        ev = ev - (1.0 - ev) / (n_repeats - 1)
    return ev


def intersubject_ceiling(recordings: Sequence, *, folds: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Leave-one-subject-out correlation with the mean of the other subjects, per target.

    For shared stimuli: how well the group predicts each participant, a
    ceiling for a model that, like the group average, only knows the stimulus.
    With ``folds`` (test index arrays, e.g. ``result.folds``) the correlation
    is computed within each fold and averaged, as encoding scores are.

    Parameters
    ----------
    recordings : sequence of Recording or arrays (n_samples, n_targets), >= 2
    folds : sequence of index arrays or None

    Returns
    -------
    ndarray, shape (n_subjects, n_targets)
    """
    data = _stack(recordings, "recordings")
    n_subjects = data.shape[0]
    if n_subjects < 2:
        raise BrainalignInputError(f"An inter-subject ceiling needs at least 2 subjects, got {n_subjects}.")
    total = data.sum(0)
    out = np.empty((n_subjects, data.shape[2]))
    for s in range(n_subjects):
        others = (total - data[s]) / (n_subjects - 1)
        if folds is None:
            out[s] = correlation_score(data[s], others)
        else:
            out[s] = np.mean([correlation_score(data[s][f], others[f]) for f in folds], axis=0)
    return out


def normalize_scores(scores: np.ndarray, ceiling: np.ndarray, *, metric: str = "r",
                     min_ceiling: float = 1e-3) -> np.ndarray:
    """Scores divided by the noise ceiling (NaN where the ceiling is below ``min_ceiling``).

    For ``metric="r"`` the ceiling is a correlation (``sqrt(ev)`` or an
    inter-subject r); for ``"r2"`` it is an explainable variance.
    """
    if metric not in ("r", "r2"):
        raise BrainalignInputError(f"metric must be 'r' or 'r2', got {metric!r}.")
    scores = as_float_array(scores, "scores")
    ceiling = as_float_array(ceiling, "ceiling")
    if isinstance(min_ceiling, bool) or not isinstance(min_ceiling, (int, float, np.number)) or not min_ceiling > 0:
        raise BrainalignInputError(f"min_ceiling must be a positive number, got {min_ceiling!r}.")
    if scores.ndim == 0 or ceiling.ndim == 0:
        raise BrainalignInputError(
            f"scores and ceiling must be arrays with one value per target, got shapes {scores.shape} and "
            f"{ceiling.shape}."
        )
    if scores.shape[-1] != ceiling.shape[-1]:
        raise BrainalignInputError(f"{scores.shape[-1]} scores per row but {ceiling.shape[-1]} ceilings.")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ceiling >= min_ceiling, scores / ceiling, np.nan)


def _stack(items, what: str) -> np.ndarray:
    if isinstance(items, np.ndarray):
        data = items
    else:
        if items is None or isinstance(items, (str, bytes)) or not np.iterable(items):
            raise BrainalignInputError(
                f"{what} must be a list of recordings or (n_samples, n_targets) arrays, got {type(items).__name__}."
            )
        items = list(items)
        if items and isinstance(items[0], Recording):
            names = items[0].target_names
            for rec in items[1:]:
                if rec.target_names != names:
                    raise BrainalignInputError(f"{what}: recordings have different targets.")
        arrays = [as_float_array(it.data if isinstance(it, Recording) else it, f"{what} item {i}")
                  for i, it in enumerate(items)]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise BrainalignInputError(f"{what} must all have the same shape, got {sorted(shapes)}.")
        data = np.stack(arrays) if arrays else np.empty((0, 0, 0))
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 3:
        raise BrainalignInputError(f"{what} must be (n, n_samples, n_targets), got shape {data.shape}.")
    if not np.isfinite(data).all():
        raise BrainalignInputError(f"{what} contain NaN or inf.")
    return data
