"""Shape metrics: orthogonal Procrustes and angular distances between representations (Williams et al. 2021)."""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError
from ._resample import as_float_array, bootstrap_score, centred_representation


def _normalised(X, name: str) -> np.ndarray:
    X = centred_representation(X, name, 3)
    norm = np.linalg.norm(X)
    if not np.isfinite(norm) or norm == 0:
        raise BrainalignInputError(f"{name} is constant: no shape to compare.")
    return X / norm


def _alignment(X, Y) -> float:
    """Largest ``tr(X Q Y^T)`` over orthogonal ``Q`` (zero-padding the narrower one): the nuclear norm."""
    X, Y = _normalised(X, "X"), _normalised(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise BrainalignInputError(f"X and Y must describe the same stimuli: {X.shape[0]} vs {Y.shape[0]} rows.")
    return float(np.clip(np.linalg.svd(X.T @ Y, compute_uv=False).sum(), 0.0, 1.0))


def angular_shape_distance(X, Y) -> float:
    """Angular Procrustes distance ``arccos(max_Q <X, Y Q>)`` of centred, unit-norm representations, in [0, pi/2].

    A metric on shapes (Williams, Kunz, Kornblith & Linderman 2021): 0 when
    one representation is a rotation / reflection and scaling of the other.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 4))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> round(angular_shape_distance(X, 2 * X @ Q), 6)
    0.0
    """
    return float(np.arccos(_alignment(X, Y)))


def procrustes_distance(X, Y) -> float:
    """Euclidean orthogonal-Procrustes distance ``min_Q ||X - Y Q||_F`` of centred, unit-norm representations.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(30, 4))
    >>> round(procrustes_distance(X, -X), 6)
    0.0
    """
    return float(np.sqrt(max(0.0, 2.0 - 2.0 * _alignment(X, Y))))


def shape_distance_with_ci(X, Y, *, metric: str = "angular", groups=None, n_bootstraps: int = 1000,
                           ci: float = 0.95, seed: int = 0) -> dict:
    """A shape distance with its bootstrap interval over stimuli (whole ``groups`` at a time).

    Returns ``{"score", "ci_low", "ci_high", "distribution"}``.
    """
    funcs = {"angular": angular_shape_distance, "procrustes": procrustes_distance}
    if metric not in funcs:
        raise BrainalignInputError(f"metric={metric!r} is not one of {sorted(funcs)}.")
    X, Y = as_float_array(X, "X"), as_float_array(Y, "Y")
    return bootstrap_score(funcs[metric], [X, Y], groups=groups, n_bootstraps=n_bootstraps, ci=ci, seed=seed,
                           distinct=True)
