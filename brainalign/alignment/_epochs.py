"""Event-related designs: one row per epoch (trial, sentence, image) instead of per sample."""

from __future__ import annotations

import logging

import numpy as np

from ..core import BrainalignInputError, DesignMatrix, FeatureSet, Recording, Timeline, content_key
from ._grid import provenance, select_layers

logger = logging.getLogger("brainalign.alignment")

_POOLS = ("mean", "sum", "first", "last")


def epoch_design(
    features: FeatureSet,
    epochs: Timeline,
    *,
    recording: Recording | None = None,
    pool: str = "mean",
    layers=None,
    name_prefix: str = "",
) -> dict[str, DesignMatrix]:
    """Pool the feature events that fall inside each epoch into one design row.

    For recordings with one row per trial (fMRI betas per sentence, averaged
    M/EEG responses per image): epoch ``k`` is the ``k``-th event of
    ``epochs`` and collects the feature events of the same run whose onsets
    lie in ``[onset_k, offset_k]`` (a zero-duration epoch collects events at
    exactly its onset).

    Parameters
    ----------
    features : FeatureSet
    epochs : Timeline
        One event per recording row (same order), with the epoch's time span.
    recording : Recording, optional
        When given, its rows must be the epochs (same count and runs); the
        design takes its sampling period (otherwise 1.0).
    pool : {"mean", "sum", "first", "last"}
        How the events inside an epoch are combined.

    Raises
    ------
    BrainalignInputError
        When an epoch holds no feature event, or the recording does not have
        one row per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> words = Timeline(["a", "b", "c"], [0.0, 0.5, 3.0])
    >>> fs = FeatureSet({"l": np.array([[1.0], [3.0], [5.0]])}, words)
    >>> sentences = Timeline(["s1", "s2"], [0.0, 3.0], [1.0, 4.0])
    >>> epoch_design(fs, sentences)["l"].X[:, 0].tolist()
    [2.0, 5.0]
    """
    if not isinstance(epochs, Timeline):
        raise BrainalignInputError(f"epochs must be a brainalign Timeline, got {type(epochs).__name__}.")
    if pool not in _POOLS:
        raise BrainalignInputError(f"pool must be one of {_POOLS}, got {pool!r}.")
    names = select_layers(features, layers)
    sampling_period = 1.0
    if recording is not None:
        if recording.n_samples != epochs.n_events or list(recording.runs) != list(epochs.runs):
            raise BrainalignInputError(
                f"The recording has {recording.n_samples} rows (runs {recording.run_ids}) but there are "
                f"{epochs.n_events} epochs (runs {epochs.run_ids}); an epoch design needs one row per epoch."
            )
        sampling_period = recording.sampling_period
    tl = features.timeline
    unknown = [r for r in tl.run_ids if r not in epochs.run_ids]
    if unknown:
        raise BrainalignInputError(
            f"The features have events in run(s) {unknown} that no epoch belongs to; epoch runs are "
            f"{epochs.run_ids}."
        )
    members: list[np.ndarray] = []
    for k in range(epochs.n_events):
        idx = np.flatnonzero(
            (tl.runs == epochs.runs[k]) & (tl.onsets >= epochs.onsets[k] - 1e-9)
            & (tl.onsets <= epochs.offsets[k] + 1e-9)
        )
        if idx.size == 0:
            raise BrainalignInputError(
                f"Epoch {k} ({epochs.tokens[k]!r}, run {epochs.runs[k]!r}, "
                f"{epochs.onsets[k]:.3f}-{epochs.offsets[k]:.3f} s) contains no feature event."
            )
        members.append(idx)
    params = {"method": "epochs", "pool": pool, "epochs": epochs.content_hash}
    grid_key = content_key({"epochs": epochs.content_hash, "sampling_period": sampling_period})
    out = {}
    for layer in names:
        F = np.asarray(features[layer], dtype=np.float64)
        if pool == "mean":
            X = np.stack([F[idx].mean(0) for idx in members])
        elif pool == "sum":
            X = np.stack([F[idx].sum(0) for idx in members])
        elif pool == "first":
            X = np.stack([F[idx[0]] for idx in members])
        else:
            X = np.stack([F[idx[-1]] for idx in members])
        meta = provenance(features, layer, grid_key, params)
        out[layer] = DesignMatrix(X.astype(np.float32), epochs.runs, sampling_period, f"{name_prefix}{layer}",
                                  [f"dim{j}" for j in range(F.shape[1])], meta)
    return out
