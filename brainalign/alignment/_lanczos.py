"""Lanczos downsampling of word features to scan times (Huth-lab style)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, DesignMatrix, FeatureSet, Recording
from ..core.validation import positive_int, positive_seconds
from ._delays import fir_delays
from ._grid import SampleGrid, check_events_reach, events_by_run, provenance, select_layers


def lanczos_kernel(t: np.ndarray, cutoff: float, window: int = 3) -> np.ndarray:
    """Lanczos-windowed sinc with cutoff frequency ``cutoff`` (Hz); 1 at t=0, 0 beyond ``window`` lobes."""
    cutoff = positive_seconds(cutoff, "cutoff", "the cutoff frequency in Hz", unit="Hz")
    window = positive_int(window, "window")
    try:
        x = np.asarray(t, dtype=float) * cutoff
    except (TypeError, ValueError):
        raise BrainalignInputError(f"t must be an array of times in seconds, got {type(t).__name__}.") from None
    safe = np.where(np.abs(x) < 1e-12, 1.0, x)
    values = window * np.sin(np.pi * safe) * np.sin(np.pi * safe / window) / (np.pi ** 2 * safe ** 2)
    values = np.where(np.abs(x) < 1e-12, 1.0, values)
    return np.where(np.abs(x) > window, 0.0, values)


def lanczos_design(
    features: FeatureSet,
    recording: Recording | SampleGrid,
    *,
    layers=None,
    window: int = 3,
    cutoff_mult: float = 1.0,
    delays: Sequence[int] | None = (1, 2, 3, 4),
    delays_s: Sequence[float] | None = None,
    rate_normalize: bool = False,
    tolerance_s: float | None = None,
    name_prefix: str = "",
) -> dict[str, DesignMatrix]:
    """Word features low-pass filtered and sampled at scan times, then FIR-delayed.

    Sample ``i`` of a run is ``sum_e L(t_i - onset_e) * features[e]`` with a
    Lanczos kernel ``L`` whose cutoff is ``cutoff_mult / TR`` (the Nyquist-safe
    choice of Huth et al., 2016), computed per run.  As in the original, the
    weights are not normalised: the output grows with word rate.  With
    ``rate_normalize=True`` each sample is divided by its total weight, giving
    a local weighted average that no longer carries word rate.  Delays are then
    added with :func:`fir_delays`: ``delays_s`` in seconds when given,
    otherwise ``delays`` in samples (both ``None`` = no delays).

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> tl = Timeline(["w"] * 200, np.arange(200) * 0.25)
    >>> fs = FeatureSet({"l": np.ones((200, 1))}, tl)
    >>> X = lanczos_design(fs, SampleGrid({"run-1": 25}, 2.0), delays=None, rate_normalize=True)["l"].X
    >>> bool(np.allclose(X[5:20], 1.0))
    True
    """
    grid = SampleGrid.of(recording)
    names = select_layers(features, layers)
    window = positive_int(window, "window")
    cutoff_mult = positive_seconds(cutoff_mult, "cutoff_mult", "a multiple of the Nyquist-safe cutoff", unit="")
    cutoff = cutoff_mult / grid.sampling_period
    tl = features.timeline
    index = events_by_run(tl, grid, tolerance_s=tolerance_s)
    weights = {}
    for run, idx in index.items():
        W = lanczos_kernel(grid.sample_times(run)[:, None] - tl.onsets[idx][None, :], cutoff, window)
        check_events_reach(run, tl.onsets[idx], (W != 0).any(axis=0), grid, "lanczos")
        if rate_normalize:
            total = W.sum(axis=1, keepdims=True)
            W = np.divide(W, total, out=np.zeros_like(W), where=np.abs(total) > 1e-12)
        weights[run] = W
    params = {
        "method": "lanczos",
        "window": int(window),
        "cutoff_mult": float(cutoff_mult),
        "cutoff_hz": cutoff,
        "rate_normalize": bool(rate_normalize),
    }
    out = {}
    for layer in names:
        F = np.asarray(features[layer], dtype=np.float64)
        X = np.vstack([weights[run] @ F[idx] for run, idx in index.items()])
        design = DesignMatrix(
            X.astype(np.float32), grid.runs, grid.sampling_period, f"{name_prefix}{layer}",
            [f"dim{j}" for j in range(F.shape[1])], provenance(features, layer, grid.key, params),
        )
        if delays_s is not None:
            design = fir_delays(design, delays_s)
        elif delays is not None:
            design = fir_delays(design, None, delays=delays)
            design.metadata["method"] = "lanczos"
        out[layer] = design
    return out
