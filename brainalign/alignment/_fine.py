"""Features on a fine time grid inside each sample, for encoders that read time below the TR (TRIBE-style)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..core import BrainalignInputError, DesignMatrix, FeatureSet, Recording
from ._grid import SampleGrid, check_events_reach, events_by_run, interval_weights, provenance, select_layers


def _overlap_weights(onsets, offsets, run: str, grid: SampleGrid, fine_factor: int) -> sparse.csr_matrix:
    """(n_bins, n_events) 0/1 matrix: an event counts in every fine bin its [onset, offset) overlaps.

    Bin ``k`` of a run covers ``[k, k + 1) * sampling_period / fine_factor``;
    an event shorter than a bin (or of zero duration) counts in the bin holding its onset.
    """
    n_bins = grid.run_lengths_[run] * fine_factor
    width = grid.sampling_period / fine_factor
    first = np.floor(onsets / width + 1e-9).astype(np.int64)
    last = np.ceil(offsets / width - 1e-9).astype(np.int64) - 1
    last = np.maximum(last, first)
    outside = (last < 0) | (first > n_bins - 1)
    check_events_reach(run, onsets, ~outside, grid, "fine-grid")
    # an event wholly outside the run gets an empty column (its first bin lies past its last)
    return interval_weights(np.where(outside, n_bins, first), np.where(outside, -1, last), n_bins)


def fine_grid_design(
    features: FeatureSet,
    recording: Recording | SampleGrid,
    *,
    fine_factor: int = 4,
    layers=None,
    tolerance_s: float | None = None,
    name_prefix: str = "",
) -> dict[str, DesignMatrix]:
    """Features summed over fine time bins (``fine_factor`` per sample), one row per recording sample.

    Each word (event) vector is added to every bin that its ``[onset,
    offset)`` overlaps, so that a bin holds the sum of the words heard during
    it (TRIBE places words on a 2 Hz grid this way).  Row ``t`` holds the
    ``fine_factor`` bins of sample ``t`` side by side, step-major: column
    ``step * n_dims + j`` (the layout
    :class:`brainalign.encoding.TemporalTransformerEncoder` unfolds with the
    same ``fine_factor``).  No convolution, no delays: the encoder learns the
    timing.  Nothing crosses a run boundary.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> fs = FeatureSet({"l": np.array([[1.0], [10.0]])}, Timeline(["a", "b"], [0.2, 1.1], [0.9, 2.6]))
    >>> fine_grid_design(fs, SampleGrid({"run-1": 3}, 2.0), fine_factor=2)["l"].X.tolist()
    [[1.0, 10.0], [10.0, 0.0], [0.0, 0.0]]
    """
    if isinstance(fine_factor, (bool, np.bool_)) or not isinstance(fine_factor, (int, np.integer)) or fine_factor < 1:
        raise BrainalignInputError(f"fine_factor must be an int >= 1 (bins per sample), got {fine_factor!r}.")
    grid = SampleGrid.of(recording)
    names = select_layers(features, layers)
    tl = features.timeline
    index = events_by_run(tl, grid, tolerance_s=tolerance_s)
    weights = {run: _overlap_weights(tl.onsets[idx], tl.offsets[idx], run, grid, int(fine_factor))
               for run, idx in index.items()}
    params = {"method": "fine_grid", "fine_factor": int(fine_factor),
              "column_layout": "step-major: column = fine_step * n_dims + dim"}
    out = {}
    for layer in names:
        F = np.asarray(features[layer], dtype=np.float64)
        blocks = [np.asarray(weights[run] @ F[idx]).reshape(grid.run_lengths_[run], -1) for run, idx in index.items()]
        names_cols = [f"dim{j}@step{s}" for s in range(int(fine_factor)) for j in range(F.shape[1])]
        out[layer] = DesignMatrix(np.vstack(blocks).astype(np.float32), grid.runs, grid.sampling_period,
                                  f"{name_prefix}{layer}", names_cols, provenance(features, layer, grid.key, params))
    return out
