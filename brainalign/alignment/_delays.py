"""Sample-grid features, FIR delays, TRF lags and edge trimming (no leakage across runs)."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
from scipy import sparse

from ..core import BrainalignInputError, DesignMatrix, FeatureSet, Recording, content_key
from ..core.validation import count_by_run
from ._grid import (SampleGrid, check_events_reach, events_by_run, interval_weights, provenance, select_layers,
                    shift_within_runs)

logger = logging.getLogger("brainalign.alignment")


def _nearest_sample_weights(onsets, offsets, events_as, run: str, grid: SampleGrid) -> sparse.csr_matrix:
    """(n_samples, n_events) 0/1 matrix putting each event on its sample(s) of ``run``."""
    n_samples, sampling_period = grid.run_lengths_[run], grid.sampling_period
    nearest = np.rint(onsets / sampling_period).astype(np.int64)
    if events_as == "impulse":
        first, last = nearest, nearest
    elif events_as == "boxcar":
        # samples whose time lies in [onset, offset); too short to cover one -> nearest sample
        first = np.ceil(onsets / sampling_period - 1e-9).astype(np.int64)
        last = np.ceil(offsets / sampling_period - 1e-9).astype(np.int64) - 1
        empty = last < first
        first = np.where(empty, nearest, first)
        last = np.where(empty, nearest, last)
    else:
        raise BrainalignInputError(f"events_as must be 'impulse' or 'boxcar', got {events_as!r}.")
    outside = (last < 0) | (first > n_samples - 1)
    check_events_reach(run, onsets, ~outside, grid, "sample-grid")
    return interval_weights(first, last, n_samples)


def resample_to_samples(
    features: FeatureSet,
    recording: Recording | SampleGrid,
    *,
    layers=None,
    events_as: str = "impulse",
    tolerance_s: float | None = None,
    name_prefix: str = "",
) -> dict[str, DesignMatrix]:
    """Features on the recording's sample grid, without any convolution.

    ``"impulse"`` puts each event's values on the sample nearest to its onset
    (events falling on the same sample add up, so for fMRI a TR holding three
    words gets the sum of their vectors); ``"boxcar"`` holds the values on
    every sample whose time lies in ``[onset, offset)`` (events shorter than a
    sample fall back to the nearest sample).  Events whose sample lies outside
    the run (negative onsets, or the tolerated overhang at the end) are dropped.
    This is the input of :func:`fir_delays` and :func:`lagged_design`.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> fs = FeatureSet({"l": np.array([[1.0], [2.0]])}, Timeline(["a", "b"], [0.02, 0.5]))
    >>> X = resample_to_samples(fs, SampleGrid({"run-1": 100}, 0.01))["l"].X
    >>> np.flatnonzero(X[:, 0]).tolist()
    [2, 50]
    """
    grid = SampleGrid.of(recording)
    names = select_layers(features, layers)
    tl = features.timeline
    index = events_by_run(tl, grid, tolerance_s=tolerance_s)
    weights = {
        run: _nearest_sample_weights(tl.onsets[idx], tl.offsets[idx], events_as, run, grid)
        for run, idx in index.items()
    }
    params = {"method": "samples", "events_as": events_as}
    out = {}
    for layer in names:
        F = np.asarray(features[layer], dtype=np.float64)
        X = np.vstack([np.asarray(weights[run] @ F[idx]) for run, idx in index.items()])
        out[layer] = DesignMatrix(
            X.astype(np.float32), grid.runs, grid.sampling_period, f"{name_prefix}{layer}",
            [f"dim{j}" for j in range(F.shape[1])], provenance(features, layer, grid.key, params),
        )
    return out


def _delays_in_samples(delays_s, sampling_period: float, what: str = "delays_s") -> list[int]:
    try:
        values = np.atleast_1d(np.asarray(delays_s, dtype=float))
    except (TypeError, ValueError):
        raise BrainalignInputError(f"{what} must be a list of delays in seconds, got {delays_s!r}.") from None
    if values.ndim != 1 or values.size == 0:
        raise BrainalignInputError(f"{what} must be a non-empty 1-D list of seconds, got {delays_s!r}.")
    samples = values / sampling_period
    rounded = np.rint(samples)
    off = np.abs(samples - rounded) > 1e-6 * np.maximum(1.0, np.abs(samples))
    if off.any():
        raise BrainalignInputError(
            f"{what} {values[off].tolist()} are not multiples of the sampling period "
            f"{sampling_period:g} s; pass delays that are (e.g. "
            f"{(rounded[off] * sampling_period).tolist()}) or integer sample delays via delays=."
        )
    return [int(d) for d in rounded]


def fir_delays(
    design: DesignMatrix,
    delays_s: Sequence[float] | None = (2.0, 4.0, 6.0, 8.0),
    *,
    delays: Sequence[int] | None = None,
) -> DesignMatrix:
    """Stack time-shifted copies of a design (finite impulse response model).

    The copy for delay ``d`` has, at sample ``t``, the design's row ``t - d``
    of the same run; rows that would come from before the run's start (or from
    another run) are zeros, so nothing leaks across a run boundary.  Columns
    are delay-major: all of the design's columns at the first delay, then at
    the second, ... (names ``"{column}@{delay}s"``).  To drop the zero-padded
    first samples of each run from both design and recording, use
    :func:`trim_edges` with ``n = max(delays)``.

    Parameters
    ----------
    design : DesignMatrix
    delays_s : sequence of float
        Delays in seconds; each must be a multiple of the sampling period.
    delays : sequence of int, optional
        Delays in samples instead of seconds (overrides ``delays_s``).
        Negative delays shift the other way (response before stimulus).

    Examples
    --------
    >>> import numpy as np
    >>> d = DesignMatrix(np.eye(5)[:, :1], None, 2.0, "x")
    >>> fir_delays(d, [2.0, 4.0]).X[:, 1].tolist()
    [0.0, 0.0, 1.0, 0.0, 0.0]
    """
    if not isinstance(design, DesignMatrix):
        raise BrainalignInputError(f"Expected a DesignMatrix, got {type(design).__name__}.")
    if delays is not None:
        try:
            given = np.atleast_1d(np.asarray(delays, dtype=float))
        except (TypeError, ValueError):
            raise BrainalignInputError(f"delays (in samples) must be integers, got {delays!r}.") from None
        if given.ndim != 1 or given.size == 0 or not np.all(np.isfinite(given)) \
                or not np.allclose(given, np.rint(given)):
            raise BrainalignInputError(f"delays (in samples) must be a non-empty list of integers, got {delays!r}.")
        steps = [int(d) for d in np.rint(given)]
    elif delays_s is not None:
        steps = _delays_in_samples(delays_s, design.sampling_period)
    else:
        raise BrainalignInputError("Give delays_s (seconds) or delays (samples).")
    if len(set(steps)) != len(steps):
        raise BrainalignInputError(f"Delays repeat: {steps}.")
    longest = max(count_by_run(design.runs).values())
    too_long = [d for d in steps if abs(d) >= longest]
    if too_long:
        # such a copy would be all zeros: every row would come from before the start of its run
        raise BrainalignInputError(
            f"Delays of {too_long} samples are as long as or longer than the longest run ({longest} samples x "
            f"{design.sampling_period:g} s); the delayed copies would be all zeros."
        )
    X = np.hstack([shift_within_runs(design.X, design.runs, d) for d in steps])
    base = design.feature_names or [f"dim{j}" for j in range(design.n_features)]
    names = [f"{n}@{d * design.sampling_period:g}s" for d in steps for n in base]
    meta = dict(design.metadata)
    meta.update(
        {
            "method": "fir" if meta.get("method") in (None, "samples") else meta["method"],
            "delays_samples": steps,
            "delays_s": [d * design.sampling_period for d in steps],
            "column_layout": "delay-major: column = delay_index * n_base + base_column",
            "n_base_features": design.n_features,
            "edges": "zero-padded at run starts",
            "input_key": content_key({"base": meta.get("input_key"), "delays_samples": steps}),
        }
    )
    return DesignMatrix(X, design.runs, design.sampling_period, design.name, names, meta)


def fir_design(
    features: FeatureSet,
    recording: Recording | SampleGrid,
    *,
    delays_s: Sequence[float] | None = (2.0, 4.0, 6.0, 8.0),
    delays: Sequence[int] | None = None,
    layers=None,
    events_as: str = "impulse",
    tolerance_s: float | None = None,
    name_prefix: str = "",
) -> dict[str, DesignMatrix]:
    """FIR designs: features summed per sample (:func:`resample_to_samples`), then delayed.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> fs = FeatureSet({"l": np.ones((2, 3))}, Timeline(["a", "b"], [1.0, 7.0]))
    >>> fir_design(fs, SampleGrid({"run-1": 30}, 2.0))["l"].X.shape
    (30, 12)
    """
    base = resample_to_samples(features, recording, layers=layers, events_as=events_as,
                               tolerance_s=tolerance_s, name_prefix=name_prefix)
    out = {}
    for layer, design in base.items():
        delayed = fir_delays(design, delays_s, delays=delays)
        delayed.metadata["method"] = "fir"
        out[layer] = delayed
    return out


def lagged_design(
    features_or_design,
    recording: Recording | SampleGrid | None = None,
    tmin: float = 0.0,
    tmax: float = 0.5,
    *,
    layers=None,
    events_as: str = "impulse",
    tolerance_s: float | None = None,
    max_gb: float = 4.0,
) -> dict[str, DesignMatrix]:
    """Time-lagged designs for temporal response functions (M/EEG).

    Lags run from ``tmin`` to ``tmax`` seconds inclusive, one per sample.
    The column block for lag ``k`` holds the stimulus shifted so that the
    response at time ``t`` depends on the stimulus at ``t - k`` (positive lags
    = response after the stimulus), within the same run only.  Columns are
    lag-major (names ``"{column}@lag{seconds}s"``).

    Parameters
    ----------
    features_or_design : FeatureSet, DesignMatrix or dict of DesignMatrix
        A FeatureSet is first put on the sample grid with
        :func:`resample_to_samples` (needs ``recording``).
    recording : Recording or SampleGrid, optional
    tmin, tmax : float
        Lag range in seconds (``tmin <= tmax``; negative lags allowed).
    max_gb : float
        Refuse to build designs bigger than this (float32 GB) — with many
        dimensions and lags prefer reducing dimensions first.

    Examples
    --------
    >>> import numpy as np
    >>> d = DesignMatrix(np.eye(6)[:, :1], None, 0.1, "x")
    >>> lagged_design(d, tmin=0.0, tmax=0.2)["x"].X[:, 2].tolist()
    [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    """
    if isinstance(features_or_design, FeatureSet):
        if recording is None:
            raise BrainalignInputError("lagged_design needs the recording to place FeatureSet events.")
        designs = resample_to_samples(features_or_design, recording, layers=layers, events_as=events_as,
                                      tolerance_s=tolerance_s)
    elif isinstance(features_or_design, DesignMatrix):
        designs = {features_or_design.name: features_or_design}
    elif isinstance(features_or_design, Mapping) and all(
        isinstance(d, DesignMatrix) for d in features_or_design.values()
    ):
        designs = dict(features_or_design)
    else:
        raise BrainalignInputError(
            "lagged_design expects a FeatureSet, a DesignMatrix or a dict of DesignMatrix, got "
            f"{type(features_or_design).__name__}."
        )
    for label, value in (("tmin", tmin), ("tmax", tmax)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise BrainalignInputError(f"{label} must be a finite number of seconds, got {value!r}.")
    if not tmin <= tmax:
        raise BrainalignInputError(f"tmin ({tmin}) must not exceed tmax ({tmax}).")
    if not designs:
        raise BrainalignInputError("lagged_design got an empty dict of designs.")
    out = {}
    for key, design in designs.items():
        if recording is not None:
            design.check_matches(recording)
        sp = design.sampling_period
        lags = np.arange(int(np.rint(tmin / sp)), int(np.rint(tmax / sp)) + 1)
        size_gb = design.n_samples * design.n_features * lags.size * 4 / 1e9
        if size_gb > max_gb:
            raise BrainalignInputError(
                f"The lagged design of {design.name!r} would take {size_gb:.1f} GB "
                f"({design.n_samples} samples x {design.n_features} columns x {lags.size} lags); "
                "reduce dimensions (e.g. PCA), the lag range or the sampling rate, or raise max_gb."
            )
        X = np.hstack([shift_within_runs(design.X, design.runs, int(k)) for k in lags])
        base = design.feature_names or [f"dim{j}" for j in range(design.n_features)]
        names = [f"{n}@lag{k * sp:.6g}s" for k in lags for n in base]
        meta = dict(design.metadata)
        meta.update(
            {
                "method": "lagged",
                "tmin": float(tmin),
                "tmax": float(tmax),
                "lags_samples": lags.tolist(),
                "lags_s": (lags * sp).tolist(),
                "column_layout": "lag-major: column = lag_index * n_base + base_column",
                "n_base_features": design.n_features,
                "edges": "zero-padded within each run",
                "input_key": content_key({"base": meta.get("input_key"), "lags_samples": lags.tolist()}),
            }
        )
        out[key] = DesignMatrix(X, design.runs, sp, design.name, names, meta)
    return out


def trim_edges(
    designs: DesignMatrix | Mapping[str, DesignMatrix],
    recording: Recording,
    n: int,
):
    """Drop the first ``n`` samples of every run from the design(s) AND the recording.

    Use it after :func:`fir_delays` / :func:`lagged_design` with
    ``n = max delay`` so that zero-padded rows do not enter the fit.  Do it
    last: the trimmed recording's sample clock no longer starts at the run's
    first scan (``metadata["trimmed_samples"]`` records ``n``).

    Returns
    -------
    (designs, recording)
        Same container type as given (a DesignMatrix or a dict of them).

    Examples
    --------
    >>> import numpy as np
    >>> rec = Recording(np.random.default_rng(0).normal(size=(10, 2)), 2.0, ["a"] * 5 + ["b"] * 5)
    >>> d = DesignMatrix(np.ones((10, 1)), rec.runs, 2.0, "x")
    >>> d2, rec2 = trim_edges(d, rec, 2)
    >>> d2.n_samples, rec2.run_lengths()
    (6, {'a': 3, 'b': 3})
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
        raise BrainalignInputError(f"n must be a number of samples >= 0, got {n!r}.")
    n = int(n)
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    single = isinstance(designs, DesignMatrix)
    if not single and not (isinstance(designs, Mapping) and all(isinstance(d, DesignMatrix) for d in designs.values())):
        raise BrainalignInputError(
            f"designs must be a DesignMatrix or a dict of DesignMatrix, got {type(designs).__name__}."
        )
    items = {designs.name: designs} if single else dict(designs)
    lengths = recording.run_lengths()
    short = {r: k for r, k in lengths.items() if k <= n}
    if short:
        raise BrainalignInputError(f"Cannot trim {n} samples: run(s) {short} are not longer than that.")
    position = np.concatenate([np.arange(k) for k in lengths.values()])
    keep = position >= n
    trimmed = {}
    for key, d in items.items():
        d.check_matches(recording)
        meta = {**d.metadata, "trimmed_samples": n}
        trimmed[key] = DesignMatrix(d.X[keep], d.runs[keep], d.sampling_period, d.name, d.feature_names, meta)
    rec = Recording(
        recording.data[keep], recording.sampling_period, recording.runs[keep], recording.target_names,
        recording.kind, recording.space, recording.subject,
        {**recording.metadata, "trimmed_samples": recording.metadata.get("trimmed_samples", 0) + n},
    )
    return (next(iter(trimmed.values())) if single else trimmed), rec
