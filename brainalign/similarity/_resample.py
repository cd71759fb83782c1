"""Bootstrap over stimuli that keeps blocks (runs, passages, categories) together."""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError


def as_float_array(values, name: str) -> np.ndarray:
    """``values`` as a float64 array, or an error naming ``name`` (missing, text, complex, ragged)."""
    if values is None:
        raise BrainalignInputError(f"{name} is missing (None); pass an array of numbers.")
    if hasattr(values, "toarray"):
        raise BrainalignInputError(f"{name} is a sparse matrix; pass a dense array (.toarray()).")
    try:
        arr = np.asarray(values)
        if np.iscomplexobj(arr):
            raise TypeError("complex values")
        return arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise BrainalignInputError(f"{name} must hold real numbers: {err}.") from None


def centred_representation(X, name: str, min_stimuli: int) -> np.ndarray:
    """(n_stimuli, n_units) float array, finite, with column means removed (1-D input = one unit)."""
    X = as_float_array(X, name)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] < min_stimuli:
        raise BrainalignInputError(
            f"{name} must be (n_stimuli, n_units) with at least {min_stimuli} stimuli, got shape {X.shape}."
        )
    if not np.all(np.isfinite(X)):
        raise BrainalignInputError(f"{name} holds NaN or infinite values.")
    return X - X.mean(0)


def check_groups(groups, n: int) -> np.ndarray:
    """Group label per stimulus (default: every stimulus its own group), as an integer code array."""
    if groups is None:
        return np.arange(n)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise BrainalignInputError(f"groups must give one label per stimulus ({n}), got shape {groups.shape}.")
    return np.unique(groups, return_inverse=True)[1]


def group_bootstrap(n: int, groups, n_bootstraps: int, seed: int = 0, *, distinct: bool = False):
    """Yield row indices of ``n_bootstraps`` resamples of whole groups drawn with replacement.

    ``distinct=True`` keeps each drawn group once (about 63 % of the groups):
    kernel and distance scores compare stimuli *pairwise*, and a stimulus
    paired with its own copy would look like a perfectly matched pair.  The
    interval is then that of a smaller sample, i.e. conservative.

    Examples
    --------
    >>> [len(rows) for rows in group_bootstrap(6, [0, 0, 1, 1, 2, 2], 3)]
    [6, 6, 6]
    """
    codes = check_groups(groups, n)
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    if len(members) < 2:
        raise BrainalignInputError("The bootstrap needs at least two groups of stimuli.")
    rng = np.random.default_rng(seed)
    for _ in range(int(n_bootstraps)):
        drawn = rng.integers(0, len(members), len(members))
        if distinct:
            drawn = np.unique(drawn)
        yield np.concatenate([members[g] for g in drawn])


def percentile_ci(distribution, ci: float) -> tuple[float, float]:
    """Percentile interval of a bootstrap distribution (NaNs of degenerate resamples ignored)."""
    if not 0 < ci < 1:
        raise BrainalignInputError(f"ci must be a coverage in (0, 1), e.g. 0.95, got {ci!r}.")
    d = np.asarray(distribution, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    q = (1.0 - ci) / 2.0
    return float(np.quantile(d, q)), float(np.quantile(d, 1.0 - q))


def bootstrap_score(score, arrays, *, groups=None, n_bootstraps: int = 1000, ci: float = 0.95, seed: int = 0,
                    distinct: bool = False) -> dict:
    """A paired score of row-aligned arrays with its group-bootstrap interval.

    Returns ``{"score", "ci_low", "ci_high", "distribution"}``.
    """
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise BrainalignInputError(f"The arrays must have one row per stimulus, got {[a.shape[0] for a in arrays]}.")
    value = float(score(*arrays))
    dist = np.array([score(*(a[rows] for a in arrays))
                     for rows in group_bootstrap(n, groups, n_bootstraps, seed, distinct=distinct)])
    low, high = percentile_ci(dist, ci)
    return {"score": value, "ci_low": low, "ci_high": high, "distribution": dist}
