"""The sample grid a design is built on, and the checks that pair events with runs."""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from ..core import BrainalignInputError, FeatureSet, Recording, Timeline, content_key, hash_array
from ..core.validation import check_events_in_runs
from ..core.validation import positive_or_zero, positive_seconds

logger = logging.getLogger("brainalign.alignment")


class SampleGrid:
    """Run lengths and sampling period of a recording, without its data.

    Everything in :mod:`brainalign.alignment` accepts either a
    :class:`~brainalign.Recording` or a ``SampleGrid``; the grid lets you build
    designs before (or without) loading brain data, e.g. to simulate a
    participant.  Sample ``i`` of a run is at ``i * sampling_period`` seconds on
    that run's clock.

    Parameters
    ----------
    run_lengths : mapping of str to int
        Number of samples of each run, in run order.
    sampling_period : float
        Seconds between samples (TR, or ``1 / sfreq``).

    Examples
    --------
    >>> grid = SampleGrid({"run-1": 100, "run-2": 80}, sampling_period=2.0)
    >>> grid.n_samples, grid.run_ids
    (180, ['run-1', 'run-2'])
    """

    def __init__(self, run_lengths: Mapping[str, int], sampling_period: float) -> None:
        if not isinstance(run_lengths, Mapping):
            raise BrainalignInputError(
                f"run_lengths must map run labels to sample counts, e.g. {{'run-1': 300}}, got "
                f"{type(run_lengths).__name__}."
            )
        lengths = {}
        for k, v in run_lengths.items():
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float, np.floating)) \
                    or not float(v).is_integer():
                raise BrainalignInputError(f"Run {k!r}: the number of samples must be a whole number, got {v!r}.")
            lengths[str(k)] = int(v)
        if not lengths:
            raise BrainalignInputError("A SampleGrid needs at least one run.")
        bad = {k: v for k, v in lengths.items() if v < 1}
        if bad:
            raise BrainalignInputError(f"Runs must have at least one sample; got {bad}.")
        self.run_lengths_ = lengths
        self.sampling_period = positive_seconds(sampling_period, "SampleGrid sampling_period")

    def __repr__(self) -> str:
        return f"SampleGrid(run_lengths={self.run_lengths_}, sampling_period={self.sampling_period})"

    @classmethod
    def of(cls, recording: "Recording | SampleGrid") -> "SampleGrid":
        """The grid of a Recording (or the grid itself)."""
        if isinstance(recording, SampleGrid):
            return recording
        if isinstance(recording, Recording):
            if recording.metadata.get("trimmed_samples"):
                raise BrainalignInputError(
                    f"This recording had its first {recording.metadata['trimmed_samples']} samples of every "
                    "run trimmed, so its sample clock no longer starts at the first scan; build designs on "
                    "the untrimmed recording and trim both afterwards (trim_edges)."
                )
            return cls(recording.run_lengths(), recording.sampling_period)
        raise BrainalignInputError(
            f"Expected a brainalign Recording or SampleGrid, got {type(recording).__name__}."
        )

    @property
    def run_ids(self) -> list[str]:
        return list(self.run_lengths_)

    def run_lengths(self) -> dict[str, int]:
        return dict(self.run_lengths_)

    @property
    def n_samples(self) -> int:
        return int(sum(self.run_lengths_.values()))

    @property
    def runs(self) -> np.ndarray:
        return np.concatenate(
            [np.full(n, run, dtype=object) for run, n in self.run_lengths_.items()]
        )

    def run_slice(self, run: str) -> slice:
        start = 0
        for label, n in self.run_lengths_.items():
            if label == run:
                return slice(start, start + n)
            start += n
        raise BrainalignInputError(f"Unknown run {run!r}; this grid has runs {self.run_ids}.")

    def sample_times(self, run: str) -> np.ndarray:
        return np.arange(self.run_lengths_[run]) * self.sampling_period

    def duration(self, run: str) -> float:
        """Seconds covered by a run: ``n_samples * sampling_period``."""
        return self.run_lengths_[run] * self.sampling_period

    @property
    def key(self) -> str:
        return content_key({"run_lengths": self.run_lengths_, "sampling_period": self.sampling_period})


def events_by_run(
    timeline: Timeline,
    grid: SampleGrid,
    *,
    tolerance_s: float | None = None,
    what: str = "features",
) -> dict[str, np.ndarray]:
    """Indices of the timeline events of every grid run (empty for runs without events).

    Raises when the timeline has a run the grid lacks, or an event starting
    later than the run's duration plus ``tolerance_s`` (default: one sampling
    period).  A grid run without events gets an empty index and a warning.
    """
    if not isinstance(timeline, Timeline):
        raise BrainalignInputError(f"Expected a brainalign Timeline, got {type(timeline).__name__}.")
    if timeline.n_events == 0:
        raise BrainalignInputError(
            f"The {what} timeline has no events, so there is nothing to place on the recording's samples."
        )
    tolerance = grid.sampling_period if tolerance_s is None else positive_or_zero(tolerance_s, "tolerance_s")
    if tolerance < 0:
        raise BrainalignInputError(f"tolerance_s must be >= 0, got {tolerance_s}.")
    index = check_events_in_runs(
        timeline, grid.run_lengths_, grid.sampling_period,
        allow_before_start=True, tolerance=tolerance, allow_onset_at_end=True, what=what,
    )
    for run, idx in index.items():
        if idx.size == 0:
            logger.warning(
                "Run %r of the recording has no %s events; its design rows are all zeros.", run, what
            )
    return index


def check_events_reach(run: str, onsets: np.ndarray, reached: np.ndarray, grid: SampleGrid, method: str,
                       what: str = "features") -> None:
    """Refuse a run whose events all miss its samples; log the events that do.

    Events far before a run's first sample (beyond the reach of the
    response: the HRF's ~30 s, the Lanczos window) or after its last one
    contribute nothing.  When that is true of *every* event of a run, its
    design rows would be all zeros without a word, which almost always means
    the timeline is not on the recording's clock.
    """
    onsets = np.asarray(onsets, dtype=float)
    reached = np.asarray(reached, dtype=bool)
    if onsets.size == 0:
        return
    missed = ~reached
    duration = grid.duration(run)
    if missed.all():
        raise BrainalignInputError(
            f"Run {run!r}: none of its {onsets.size} {what} events reaches a sample of the run in the {method} "
            f"design (onsets {onsets.min():.3f} to {onsets.max():.3f} s; the run's samples cover 0 to "
            f"{duration:.3f} s), so its design rows would be all zeros. Put the timeline on the recording's "
            "clock (seconds from the run's first sample)."
        )
    if missed.any():
        logger.warning(
            "Run %r: %d of %d %s events (onsets %s s) lie too far before the first sample or after the last "
            "to reach any sample of the %s design; they are left out.", run, int(missed.sum()), onsets.size,
            what, np.round(onsets[missed][:5], 3).tolist(), method,
        )



def interval_weights(first: np.ndarray, last: np.ndarray, n_rows: int):
    """(n_rows, n_events) 0/1 sparse matrix with ones in rows ``first[j]..last[j]`` of column ``j``.

    Rows are clipped to ``[0, n_rows)``; an event whose interval lies wholly
    outside gets an empty column (callers check reach first, naming the run).

    Examples
    --------
    >>> interval_weights(np.array([0, 2]), np.array([1, 5]), 4).toarray().tolist()
    [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    from scipy import sparse

    first = np.maximum(np.asarray(first, dtype=np.int64), 0)
    last = np.minimum(np.asarray(last, dtype=np.int64), n_rows - 1)
    counts = np.maximum(0, last - first + 1)
    cols = np.repeat(np.arange(first.size), counts)
    # row of each one: the interval's first row plus its position inside the interval
    rows = np.repeat(first, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    return sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_rows, first.size))


def select_layers(features: FeatureSet, layers) -> list[str]:
    """Validated list of layer names (``None`` = all, a str = one, ints = positions).

    Examples
    --------
    >>> from brainalign import FeatureSet, Timeline
    >>> fs = FeatureSet({"a": np.zeros((1, 2)), "b": np.ones((1, 2))}, Timeline(["w"], [0.0]))
    >>> select_layers(fs, [-1, "a"])
    ['b', 'a']
    """
    if not isinstance(features, FeatureSet):
        raise BrainalignInputError(f"Expected a brainalign FeatureSet, got {type(features).__name__}.")
    if layers is None:
        return features.layer_names
    if isinstance(layers, (str, int, np.integer)):
        layers = [layers]
    if not np.iterable(layers) or isinstance(layers, Mapping):
        raise BrainalignInputError(
            f"layers must be a layer name, a position or a list of them, got {type(layers).__name__} {layers!r}."
        )
    names = []
    for layer in layers:
        if isinstance(layer, (int, np.integer)):
            if not -len(features.layer_names) <= int(layer) < len(features.layer_names):
                raise BrainalignInputError(
                    f"Layer index {layer} is out of range for {len(features.layer_names)} layers."
                )
            names.append(features.layer_names[int(layer)])
        elif isinstance(layer, str) and layer in features.layers:
            names.append(str(layer))
        else:
            raise BrainalignInputError(
                f"Unknown layer {layer!r}; valid layers are {features.layer_names}."
            )
    return names


def provenance(features: FeatureSet, layer: str, grid_key: str, params: dict) -> dict:
    """Design metadata: model, layer, parameters and a content key of all inputs.

    ``grid_key`` identifies the rows the design is built on (:attr:`SampleGrid.key`).
    """
    meta = {
        "model_id": features.metadata.get("model_id"),
        "layer": layer,
        **params,
    }
    meta["input_key"] = content_key(
        {
            "timeline": features.timeline.content_hash,
            "features": hash_array(features[layer]),
            "features_metadata": {k: v for k, v in features.metadata.items() if _jsonable(v)},
            "grid": grid_key,
            "params": {k: v for k, v in params.items() if _jsonable(v)},
        }
    )
    return meta


def _jsonable(value) -> bool:
    try:
        content_key(value)
    except TypeError:
        return False
    return True


def shift_within_runs(X: np.ndarray, runs: np.ndarray, shift: int) -> np.ndarray:
    """Rows moved ``shift`` samples later (earlier if negative) inside each run, zero-filled.

    Row ``t`` of the output is row ``t - shift`` of the input when both lie in
    the same run, zero otherwise: nothing leaks across a run boundary.

    Examples
    --------
    >>> shift_within_runs(np.arange(1, 5), np.array([0, 0, 1, 1]), 1).tolist()
    [0, 1, 0, 3]
    """
    out = np.zeros_like(X)
    changes = np.flatnonzero(runs[1:] != runs[:-1]) + 1
    bounds = np.concatenate([[0], changes, [len(runs)]])
    for start, stop in zip(bounds[:-1], bounds[1:]):
        n = stop - start
        if abs(shift) >= n:
            continue
        if shift >= 0:
            out[start + shift:stop] = X[start:stop - shift]
        else:
            out[start:stop + shift] = X[start - shift:stop]
    return out


def zscore_within_runs(X: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Columns z-scored inside each run; constant columns become zeros."""
    out = np.empty_like(X)
    for run in dict.fromkeys(runs):
        sel = runs == run
        block = X[sel]
        std = block.std(axis=0)
        out[sel] = np.where(std > 0, (block - block.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)
    return out
