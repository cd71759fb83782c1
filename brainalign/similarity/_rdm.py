"""Representational dissimilarity matrices (RDMs) with rsatoolbox: brain patterns, model layers, ROIs,
searchlights and time-resolved M/EEG."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np

from ..core import BrainalignInputError, FeatureSet, Recording

from ._resample import as_float_array

logger = logging.getLogger("brainalign.similarity")

#: rsatoolbox's RDM estimators; "crossnobis" needs runs (cross-validated over them)
RDM_METHODS = ("euclidean", "correlation", "mahalanobis", "crossnobis", "poisson", "poisson_cv")


def _patterns(patterns, what: str) -> np.ndarray:
    if isinstance(patterns, Recording):
        patterns = patterns.data
    X = as_float_array(patterns, what)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise BrainalignInputError(f"{what} must be (n_observations, n_channels), got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise BrainalignInputError(f"{what} holds NaN or infinite values; drop those channels first.")
    return X


def pattern_dataset(patterns, conditions=None, *, runs=None, groups=None, channels=None, name: str = "data"):
    """An ``rsatoolbox.data.Dataset``: observations (rows) labelled by condition, run and stimulus group.

    Parameters
    ----------
    patterns : ndarray (n_observations, n_channels) or Recording
    conditions : labels per observation (default: each row its own condition)
    runs : labels per observation (``crossnobis`` cross-validates over them);
        default the Recording's runs.
    groups : labels per observation: stimulus blocks kept together by the bootstrap
    channels : mask / indices of the columns to keep (an ROI)
    """
    from rsatoolbox.data import Dataset

    rec_runs = patterns.runs if isinstance(patterns, Recording) else None
    X = _patterns(patterns, name)
    if channels is not None:
        idx = np.asarray(channels)
        X = X[:, idx]
        if X.shape[1] == 0:
            raise BrainalignInputError(f"The channel selection of {name!r} is empty.")
    n = X.shape[0]
    # labels keep their type: RDM rows follow the sorted labels, and "10" < "2" as strings
    obs = {"conditions": np.asarray(conditions if conditions is not None else np.arange(n))}
    runs = runs if runs is not None else rec_runs
    if runs is not None:
        obs["runs"] = np.asarray(runs).astype(str)
    if groups is not None:
        obs["groups"] = np.asarray(groups).astype(str)
    for key, labels in obs.items():
        if labels.shape != (n,):
            raise BrainalignInputError(f"{key} must give one label per observation ({n}), got shape {labels.shape}.")
    return Dataset(X, descriptors={"name": name}, obs_descriptors=obs)


def compute_rdm(patterns, conditions=None, *, method: str = "correlation", runs=None, channels=None,
                noise=None, name: str = "data"):
    """RDM of the conditions' mean patterns (``rsatoolbox.rdm.calc_rdm``).

    ``method="crossnobis"`` gives cross-validated Mahalanobis distances
    (unbiased: 0 in expectation for identical conditions) across ``runs``;
    pass the noise precision from ``rsatoolbox.data.prec_from_residuals`` as
    ``noise`` (default identity: cross-validated Euclidean).

    Returns
    -------
    rsatoolbox.rdm.RDMs
        One RDM, ``pattern_descriptors["conditions"]`` the sorted condition labels.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0], [5.0, 5.2]])
    >>> rdm = compute_rdm(X, ["a", "a", "b", "b"], method="euclidean")
    >>> rdm.n_cond, bool(rdm.get_vectors()[0, 0] > 5)
    (2, True)
    """
    from rsatoolbox.rdm import calc_rdm

    if method not in RDM_METHODS:
        raise BrainalignInputError(f"method={method!r} is not one of {RDM_METHODS}.")
    data = pattern_dataset(patterns, conditions, runs=runs, channels=channels, name=name)
    cv = None
    if method in ("crossnobis", "poisson_cv"):
        if "runs" not in data.obs_descriptors or len(set(data.obs_descriptors["runs"])) < 2:
            raise BrainalignInputError(
                f"method={method!r} cross-validates over runs: pass runs with at least two labels."
            )
        cv = "runs"
    rdm = calc_rdm(data, method=method, descriptor="conditions", noise=noise, cv_descriptor=cv)
    rdm.rdm_descriptors["name"] = [name]
    return rdm


def layer_rdms(features: FeatureSet | Mapping[str, np.ndarray], *, conditions=None, method: str = "correlation",
               layers: Sequence[str] | None = None):
    """One RDM per model layer (rows = stimuli, or averaged per ``conditions``), ``rdm_descriptors["layer"]``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> rdms = layer_rdms({"l0": rng.normal(size=(5, 8)), "l1": rng.normal(size=(5, 3))})
    >>> rdms.n_rdm, rdms.rdm_descriptors["layer"]
    (2, ['l0', 'l1'])
    """
    from rsatoolbox.rdm import concat

    source = features.layers if isinstance(features, FeatureSet) else features
    if not isinstance(source, Mapping) or not source:
        raise BrainalignInputError(
            "features must be a FeatureSet or a non-empty mapping of layer -> (n_stimuli, n_dims)."
        )
    names = list(layers) if layers is not None else list(source)
    missing = [n for n in names if n not in source]
    if missing:
        raise BrainalignInputError(f"layers {missing} are not in the features ({list(source)[:6]}...).")
    rdms = []
    for name in names:
        rdm = compute_rdm(source[name], conditions, method=method, name=str(name))
        rdm.rdm_descriptors["layer"] = [str(name)]
        rdms.append(rdm)
    return concat(rdms)


def roi_rdms(patterns, conditions, rois: Mapping[str, object], *, method: str = "correlation", runs=None):
    """One RDM per region of interest (``rois``: name -> boolean mask or column indices), ``rdm_descriptors["roi"]``."""
    from rsatoolbox.rdm import concat

    if not rois:
        raise BrainalignInputError("rois is empty; pass {name: mask or column indices}.")
    out = []
    for name, cols in rois.items():
        rdm = compute_rdm(patterns, conditions, method=method, runs=runs, channels=cols, name=str(name))
        rdm.rdm_descriptors["roi"] = [str(name)]
        out.append(rdm)
    return concat(out)


def searchlight_rdms(patterns, conditions, mask, *, radius: float = 2.0, threshold: float = 0.5,
                     method: str = "correlation"):
    """RDMs of spherical searchlights over a 3-D mask (``rsatoolbox.util.searchlight``).

    Parameters
    ----------
    patterns : ndarray (n_observations, n_voxels) or Recording
        Columns are the mask's voxels in ``np.flatnonzero(mask)`` order (the
        order a nilearn ``NiftiMasker`` uses).
    mask : ndarray (x, y, z) of bool, or a NIfTI mask image
    radius : float
        In voxels.
    threshold : float
        Keep searchlights with at least this fraction of their sphere inside the mask.

    Returns
    -------
    rdms : rsatoolbox.rdm.RDMs
        One per searchlight centre, ``rdm_descriptors["voxel_index"]`` the
        centre's column among the mask's voxels.
    centres : ndarray
        The same, as an array (for :func:`searchlight_map`).
    """
    from rsatoolbox.util.searchlight import get_searchlight_RDMs, get_volume_searchlight

    if hasattr(mask, "get_fdata"):
        mask = np.asarray(mask.get_fdata()) > 0
    mask = np.asarray(mask).astype(bool)
    if mask.ndim != 3:
        raise BrainalignInputError(f"mask must be a 3-D volume, got shape {mask.shape}.")
    X = _patterns(patterns, "patterns")
    in_mask = np.flatnonzero(mask)
    if X.shape[1] != in_mask.size:
        raise BrainalignInputError(f"patterns have {X.shape[1]} columns but the mask has {in_mask.size} voxels.")
    centers, neighbors = get_volume_searchlight(mask, radius=radius, threshold=threshold)
    # rsatoolbox indexes the flattened volume: put the patterns back on it
    full = np.zeros((X.shape[0], mask.size))
    full[:, in_mask] = X
    rdms = get_searchlight_RDMs(full, centers, neighbors, np.asarray(conditions), method=method, verbose=False)
    column = np.searchsorted(in_mask, np.asarray(centers))
    rdms.rdm_descriptors["voxel_index"] = list(column)
    return rdms, column


def time_resolved_rdms(epochs, conditions=None, *, method: str = "correlation", picks="data", bins=None):
    """One RDM per time point (or bin) of M/EEG epochs (``rsatoolbox.rdm.calc_rdm_movie``).

    ``conditions`` default to the epochs' event names; ``rdm_descriptors["time"]`` holds the times (s).
    """
    import mne
    from rsatoolbox.data import TemporalDataset
    from rsatoolbox.rdm import calc_rdm_movie

    if not isinstance(epochs, mne.BaseEpochs):
        raise BrainalignInputError(f"time_resolved_rdms needs mne Epochs, got {type(epochs).__name__}.")
    ep = epochs.copy().pick(picks, verbose="error")
    if conditions is None:
        names = {v: k for k, v in ep.event_id.items()}
        conditions = [names[int(c)] for c in ep.events[:, 2]]
    conditions = np.asarray(conditions).astype(str)
    if conditions.shape != (len(ep),):
        raise BrainalignInputError(f"conditions must give one label per epoch ({len(ep)}), got {conditions.shape}.")
    data = TemporalDataset(ep.get_data(copy=True), obs_descriptors={"conditions": conditions},
                           time_descriptors={"time": ep.times})
    return calc_rdm_movie(data, method=method, descriptor="conditions", bins=bins)
