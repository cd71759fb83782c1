"""Brain recordings as (time x targets) with the way back to image / sensor space."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence, get_args

import numpy as np

from ._validation import (
    BrainalignInputError,
    _name_columns,
    as_2d_float,
    check_runs_contiguous,
    check_same_length,
    count_by_run,
    ordered_unique,
    positive_seconds,
    run_labels,
)

RecordingKind = Literal["fmri", "roi", "eeg", "meg", "ieeg", "other"]


@dataclass(eq=False)
class Recording:
    """Brain data of one participant: samples x targets, split into runs.

    Sample ``i`` of a run is taken at ``i * sampling_period`` seconds on that
    run's clock (the clock a :class:`~brainalign.Timeline` of the same run uses).

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_targets)
        Voxels, vertices, ROIs or sensors in columns.
    sampling_period : float
        Seconds between samples: the TR for fMRI, ``1 / sfreq`` for M/EEG.
    runs : sequence of str or None
        Run label of every sample (contiguous blocks); ``None`` = one run.
    target_names : sequence of str or None
        Names of the columns (ROI names, channel names); defaults to indices.
    kind : {"fmri", "roi", "eeg", "meg", "ieeg", "other"}
        ``"ieeg"``: intracranial (sEEG / ECoG) channels; scored and gapped like M/EEG.
    space : object or None
        How to go back to a brain space: a fitted nilearn masker for images,
        an ``mne.Info`` for sensors.  See :meth:`to_image` and :meth:`to_evoked`.
    subject : str
        Participant label, carried into results.
    metadata : dict
        Provenance (file names, hashes, cleaning applied).
    on_bad_targets : {"raise", "drop"}
        Targets that are NaN/inf anywhere or constant within a run make
        encoding scores meaningless.  By default they raise an error that names
        them; ``"drop"`` removes them with a logged warning and records them in
        ``metadata["dropped_targets"]``.

    Examples
    --------
    >>> import numpy as np
    >>> rec = Recording(np.random.default_rng(0).normal(size=(100, 3)), sampling_period=2.0)
    >>> rec.n_samples, rec.n_targets, rec.run_ids
    (100, 3, ['run-1'])
    """

    data: np.ndarray
    sampling_period: float
    runs: Sequence[str] | None = None
    target_names: Sequence[str] | None = None
    kind: RecordingKind = "other"
    space: Any = None
    subject: str = "sub-01"
    metadata: dict[str, Any] = field(default_factory=dict)
    on_bad_targets: Literal["raise", "drop"] = "raise"

    def __post_init__(self) -> None:
        data = as_2d_float(self.data, "Recording data")
        self.sampling_period = positive_seconds(self.sampling_period, "Recording sampling_period")
        n_samples, n_targets = data.shape
        if n_samples < 2 or n_targets < 1:
            raise BrainalignInputError(f"Recording data is too small: shape {data.shape}.")
        self.runs = run_labels(self.runs, n_samples)
        check_runs_contiguous(self.runs, "Recording")
        names = [str(i) for i in range(n_targets)] if self.target_names is None else [str(n) for n in self.target_names]
        check_same_length("target_names", len(names), "data columns", n_targets)
        self.target_names = names
        if self.kind not in get_args(RecordingKind):
            raise BrainalignInputError(f"Unknown recording kind {self.kind!r}; use one of {list(get_args(RecordingKind))}.")
        self.metadata = dict(self.metadata)
        self.data = data
        self._check_targets()

    def _check_targets(self) -> None:
        bad_nan = np.zeros(self.n_targets, dtype=bool)
        bad_const = np.zeros(self.n_targets, dtype=bool)
        labels = np.asarray(self.runs)
        # runs are contiguous: row slices, not masks; and ~32 MiB column blocks, so that a memory-mapped
        # whole-brain recording is checked without materialising it (a mask would copy a run of every voxel)
        bounds = [(int(np.argmax(labels == run)), int((labels == run).sum())) for run in self.run_ids]
        width = max(1, (32 * 2**20) // (4 * max(1, self.n_samples)))
        for start in range(0, self.n_targets, width):
            cols = slice(start, min(self.n_targets, start + width))
            chunk = np.asarray(self.data[:, cols])
            bad_nan[cols] = ~np.isfinite(chunk).all(axis=0)
            for first, count in bounds:
                block = chunk[first:first + count]
                with np.errstate(invalid="ignore"), warnings.catch_warnings():
                    # all-NaN columns are reported below by name; numpy's "All-NaN slice" warning adds nothing
                    warnings.simplefilter("ignore", RuntimeWarning)
                    bad_const[cols] |= np.nanmax(block, axis=0) == np.nanmin(block, axis=0)
        bad_const &= ~bad_nan
        if not (bad_nan.any() or bad_const.any()):
            return
        if self.on_bad_targets == "raise":
            if bad_const.all():
                raise BrainalignInputError(
                    f"Every target of subject {self.subject!r} is constant within a run "
                    f"(all-zero or flat data?); this recording cannot be encoded."
                )
            parts = []
            if bad_nan.any():
                parts.append(
                    f"{bad_nan.sum()} target(s) contain NaN/inf: "
                    f"{_name_columns(np.flatnonzero(bad_nan), self.target_names)}"
                )
            if bad_const.any():
                parts.append(
                    f"{bad_const.sum()} target(s) are constant within a run: "
                    f"{_name_columns(np.flatnonzero(bad_const), self.target_names)}"
                )
            raise BrainalignInputError(
                f"Recording of subject {self.subject!r}: " + "; ".join(parts)
                + ". Remove them or pass on_bad_targets='drop'."
            )
        if self.on_bad_targets != "drop":
            raise BrainalignInputError(f"on_bad_targets must be 'raise' or 'drop', got {self.on_bad_targets!r}.")
        keep = ~(bad_nan | bad_const)
        if not keep.any():
            raise BrainalignInputError(f"All targets of subject {self.subject!r} are NaN or constant.")
        import logging

        dropped = [self.target_names[i] for i in np.flatnonzero(~keep)]
        logging.getLogger("brainalign").warning(
            "Dropping %d NaN/constant target(s) of subject %s: %s", len(dropped), self.subject, dropped[:10]
        )
        self.metadata["dropped_targets"] = dropped
        self.metadata["kept_target_mask"] = keep.tolist()
        self.data = self.data[:, keep]
        self.target_names = [n for n, k in zip(self.target_names, keep) if k]

    # ------------------------------------------------------------------ basics
    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.data.shape[1])

    @property
    def run_ids(self) -> list[str]:
        return ordered_unique(self.runs)

    @property
    def sfreq(self) -> float:
        return 1.0 / self.sampling_period

    def run_lengths(self) -> dict[str, int]:
        return count_by_run(self.runs)

    def run_slice(self, run: str) -> slice:
        idx = np.flatnonzero(self.runs == run)
        if idx.size == 0:
            raise BrainalignInputError(f"Unknown run {run!r}; this recording has runs {self.run_ids}.")
        return slice(int(idx[0]), int(idx[-1]) + 1)

    def sample_times(self, run: str | None = None) -> np.ndarray:
        """Time (s) of each sample on its run's clock; all runs concatenated if ``run`` is None."""
        if run is None:
            return np.concatenate([self.sample_times(r) for r in self.run_ids])
        sl = self.run_slice(run)
        return np.arange(sl.stop - sl.start) * self.sampling_period

    def select_targets(self, index) -> "Recording":
        index = np.asarray(index)
        if index.dtype.kind in "US" or index.dtype == object:
            lookup = {n: i for i, n in enumerate(self.target_names)}
            missing = [n for n in index if n not in lookup]
            if missing:
                raise BrainalignInputError(f"Unknown target(s) {missing}; targets are {self.target_names[:20]}.")
            index = np.array([lookup[n] for n in index])
        names = list(np.asarray(self.target_names, dtype=object)[index])
        return Recording(self.data[:, index], self.sampling_period, self.runs, names, self.kind,
                         None, self.subject, {**self.metadata, "selected_from": self.n_targets})

    # ------------------------------------------------------ back to brain space
    def to_image(self, values: np.ndarray):
        """Map per-target values (n_targets,) or (k, n_targets) back to a NIfTI/GIfTI image.

        Requires ``space`` to be a fitted nilearn masker (anything with
        ``inverse_transform``).
        """
        if self.space is None or not hasattr(self.space, "inverse_transform"):
            raise BrainalignInputError(
                "This recording has no image space: build it with a nilearn masker "
                "(e.g. brainalign.recordings.load_fmri) to map values back to the brain."
            )
        values = np.asarray(values, dtype=np.float32)
        if values.shape[-1] != self.n_targets:
            raise BrainalignInputError(f"Expected {self.n_targets} values per map, got {values.shape[-1]}.")
        return self.space.inverse_transform(values)

    def to_evoked(self, values: np.ndarray, comment: str = "brainalign"):
        """Per-sensor values (n_targets,) or (n_targets, n_times) as an ``mne.EvokedArray``."""
        import mne

        if not isinstance(self.space, mne.Info):
            raise BrainalignInputError("This recording has no sensor space (space must be an mne.Info).")
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.shape[0] != self.n_targets:
            raise BrainalignInputError(f"Expected {self.n_targets} sensors, got {values.shape[0]}.")
        return mne.EvokedArray(values, self.space, tmin=0.0, comment=comment, nave=1)

    def __repr__(self) -> str:
        return (
            f"Recording(subject={self.subject!r}, kind={self.kind!r}, n_samples={self.n_samples}, "
            f"n_targets={self.n_targets}, sampling_period={self.sampling_period}, runs={self.run_ids})"
        )
