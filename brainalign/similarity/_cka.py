"""Centred kernel alignment (CKA): linear and RBF kernels, with the debiased HSIC estimator."""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError
from ._resample import as_float_array, bootstrap_score, centred_representation

KERNELS = ("linear", "rbf")


def _gram(X: np.ndarray, kernel: str, sigma: float) -> np.ndarray:
    if kernel == "linear":
        return X @ X.T
    sq = (X * X).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0.0)
    # bandwidth relative to the median distance: scale-free, as in Kornblith et al. (2019)
    med = np.median(d2[np.triu_indices_from(d2, 1)])
    return np.exp(-d2 / (2.0 * sigma**2 * max(med, 1e-300)))


def _hsic(K: np.ndarray, L: np.ndarray, debiased: bool) -> float:
    n = K.shape[0]
    if not debiased:
        H = np.eye(n) - 1.0 / n
        return float(np.sum((H @ K @ H) * L) / (n - 1) ** 2)
    # Song et al. (2012) unbiased estimator: zero diagonals, correction terms
    K = K.copy()
    L = L.copy()
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    ones_K, ones_L = K.sum(0), L.sum(0)
    value = (np.sum(K * L) + ones_K.sum() * ones_L.sum() / ((n - 1) * (n - 2))
             - 2.0 / (n - 2) * ones_K @ ones_L)
    return float(value / (n * (n - 3)))


def cka(X, Y, *, kernel: str = "linear", debiased: bool = True, sigma: float = 1.0) -> float:
    """CKA similarity of two representations of the same stimuli (rows).

    ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with ``K``, ``L`` the linear
    (``X X^T``) or RBF Gram matrices of the column-centred representations.
    ``debiased=True`` uses the unbiased HSIC estimator (Song et al. 2012), which
    removes the upward bias of CKA with few stimuli and many units (Murphy et
    al. 2024); it can be slightly negative for unrelated representations.
    Invariant to orthogonal transforms and isotropic scaling of either
    representation, not to arbitrary invertible linear maps.

    Parameters
    ----------
    X, Y : ndarray (n_stimuli, n_units_x), (n_stimuli, n_units_y)
    kernel : {"linear", "rbf"}
    sigma : float
        RBF bandwidth as a multiple of the median pairwise distance.

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network representations revisited. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 10))
    >>> round(cka(X, 3 * X), 6), round(cka(X, X, kernel="rbf"), 6)
    (1.0, 1.0)
    """
    if kernel not in KERNELS:
        raise BrainalignInputError(f"kernel={kernel!r} is not one of {KERNELS}.")
    if not (np.isfinite(sigma) and sigma > 0):
        raise BrainalignInputError(f"sigma must be a positive multiple of the median distance, got {sigma!r}.")
    X, Y = centred_representation(X, "X", 4), centred_representation(Y, "Y", 4)
    if X.shape[0] != Y.shape[0]:
        raise BrainalignInputError(f"X and Y must describe the same stimuli: {X.shape[0]} vs {Y.shape[0]} rows.")
    K, L = _gram(X, kernel, sigma), _gram(Y, kernel, sigma)
    kl, kk, ll = _hsic(K, L, debiased), _hsic(K, K, debiased), _hsic(L, L, debiased)
    if kk <= 0 or ll <= 0:
        return float("nan")
    return float(kl / np.sqrt(kk * ll))


def cka_with_ci(X, Y, *, groups=None, n_bootstraps: int = 1000, ci: float = 0.95, seed: int = 0, **kwargs) -> dict:
    """:func:`cka` with a bootstrap interval over stimuli (whole ``groups`` -- runs, blocks -- at a time).

    Each resample keeps the distinct groups drawn (a stimulus paired with its
    own copy would inflate the kernel alignment), so the interval is slightly
    conservative.

    Returns
    -------
    dict with ``score``, ``ci_low``, ``ci_high`` and ``distribution``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5))
    >>> out = cka_with_ci(X, X @ rng.normal(size=(5, 5)) + rng.normal(size=(60, 5)), n_bootstraps=100)
    >>> bool(out["ci_low"] < out["score"] < out["ci_high"])
    True
    """
    X, Y = as_float_array(X, "X"), as_float_array(Y, "Y")
    return bootstrap_score(lambda a, b: cka(a, b, **kwargs), [X, Y], groups=groups, n_bootstraps=n_bootstraps,
                           ci=ci, seed=seed, distinct=True)
