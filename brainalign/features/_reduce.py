"""Dimensionality reduction of layer features, fitted on the stimulus alone."""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError, FeatureSet


def principal_components(features: FeatureSet, n_components: int) -> FeatureSet:
    """Each layer projected on its first ``n_components`` principal components.

    Computed on the z-scored stimulus features of all runs together.  It uses
    no brain data, so it cannot leak test responses into training folds; to
    fit the projection inside each training fold instead, pass ``pca=`` to
    :func:`brainalign.encoding.cross_validate`.

    Parameters
    ----------
    features : FeatureSet
    n_components : int
        Components kept per layer (at most the layer's width and event count).

    Returns
    -------
    FeatureSet
        Same layers and timeline, ``n_components`` columns each, ordered by
        explained variance; ``metadata["reduction"]`` records the step.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import FeatureSet, Timeline
    >>> tl = Timeline([f"w{i}" for i in range(20)], np.arange(20.0))
    >>> fs = FeatureSet({"layer.0": np.random.default_rng(0).normal(size=(20, 6))}, tl)
    >>> principal_components(fs, 3)["layer.0"].shape
    (20, 3)
    """
    if int(n_components) < 1:
        raise BrainalignInputError(f"n_components must be >= 1, got {n_components!r}.")
    reduced = {}
    for name, X in features.layers.items():
        X = np.asarray(X, dtype=np.float64)
        Xz = (X - X.mean(0)) / (X.std(0) + 1e-6)
        _, _, vt = np.linalg.svd(Xz, full_matrices=False)
        reduced[name] = (Xz @ vt[:n_components].T).astype(np.float32)
    meta = {**features.metadata, "reduction": f"PCA({n_components}) per layer on stimulus features"}
    return FeatureSet(reduced, features.timeline, meta)
