"""HRF-convolved event regressors sampled on an fMRI recording's grid."""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import sparse

from ..core import BrainalignInputError, DesignMatrix, FeatureSet, Recording, Timeline
from ..core.validation import positive_int, positive_seconds
from ._grid import SampleGrid, check_events_reach, events_by_run, provenance, select_layers, zscore_within_runs

_HRF_MODELS = (
    "glover",
    "spm",
    "glover + derivative",
    "spm + derivative",
    "glover + derivative + dispersion",
    "spm + derivative + dispersion",
)


def hrf_kernels(hrf_model, sampling_period: float, oversampling: int) -> tuple[list[np.ndarray], list[str]]:
    """Oversampled HRF kernels from nilearn, scaled so that the main kernel peaks at 1.

    Returns the kernels (sampled every ``sampling_period / oversampling``
    seconds from 0 s) and a column-name suffix for each ("" for the main one).
    """
    from nilearn.glm.first_level import hemodynamic_models as hm

    sampling_period = positive_seconds(sampling_period, "sampling_period")
    oversampling = positive_int(oversampling, "oversampling")
    if hrf_model is None:
        raise BrainalignInputError(
            "hrf_model=None (no convolution) is not supported here: use "
            "brainalign.alignment.resample_to_samples or fir_design for unconvolved features."
        )
    if callable(hrf_model):
        kernels, suffixes = [np.asarray(hrf_model(sampling_period, oversampling), float)], [""]
    elif isinstance(hrf_model, str) and hrf_model in _HRF_MODELS:
        base = hrf_model.split(" ")[0]
        makers: list[tuple[Callable, str]] = [(getattr(hm, f"{base}_hrf"), "")]
        if "derivative" in hrf_model:
            makers.append((getattr(hm, f"{base}_time_derivative"), "_derivative"))
        if "dispersion" in hrf_model:
            makers.append((getattr(hm, f"{base}_dispersion_derivative"), "_dispersion"))
        kernels = [np.asarray(f(sampling_period, oversampling), float) for f, _ in makers]
        suffixes = [s for _, s in makers]
    else:
        raise BrainalignInputError(
            f"Unknown hrf_model {hrf_model!r}; use one of {list(_HRF_MODELS)} "
            "or a callable(t_r, oversampling) returning the oversampled kernel."
        )
    if kernels[0].ndim != 1 or kernels[0].size == 0 or not np.isfinite(kernels[0]).all():
        raise BrainalignInputError("The HRF kernel must be a non-empty finite 1-D array.")
    peak = np.abs(kernels[0]).max()
    if peak == 0:
        raise BrainalignInputError("The HRF kernel is all zeros.")
    return [k / peak for k in kernels], suffixes


def event_weights(
    onsets: np.ndarray,
    offsets: np.ndarray,
    n_samples: int,
    sampling_period: float,
    kernel: np.ndarray,
    oversampling: int,
    events_as: str = "impulse",
) -> sparse.csr_matrix:
    """Sparse (n_samples, n_events) matrix: the response of each sample to each event.

    It equals nilearn's recipe (events on an oversampled grid, convolved with
    the kernel, read back at the sample times) but never builds the oversampled
    signal: a layer's design is then one sparse product ``W @ features`` for
    all dimensions at once, and ``W`` is shared by every layer of a run.
    Each event carries unit area: an impulse at its onset (``"impulse"``) or
    its value spread evenly over ``[onset, offset)`` (``"boxcar"``).
    """
    dt = sampling_period / oversampling
    start = np.rint(onsets / dt).astype(np.int64)
    if events_as == "impulse":
        stop = start + 1
    elif events_as == "boxcar":
        stop = np.maximum(np.rint(offsets / dt).astype(np.int64), start + 1)
    else:
        raise BrainalignInputError(f"events_as must be 'impulse' or 'boxcar', got {events_as!r}.")
    width = (stop - start).astype(float)
    length = kernel.size
    cumulative = np.concatenate([[0.0], np.cumsum(kernel)])
    # samples i (high-res index i * oversampling) that the event can reach
    first = np.maximum(0, -(-start // oversampling))
    last = np.minimum(n_samples - 1, (stop + length - 2) // oversampling)
    counts = np.maximum(0, last - first + 1)
    total = int(counts.sum())
    cols = np.repeat(np.arange(onsets.size), counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.repeat(first, counts) + within
    n = rows * oversampling
    hi = np.clip(n - start[cols] + 1, 0, length)
    lo = np.clip(n - stop[cols] + 1, 0, length)
    values = (cumulative[hi] - cumulative[lo]) / width[cols]
    return sparse.csr_matrix((values, (rows, cols)), shape=(n_samples, onsets.size))


def hrf_design(
    features: FeatureSet,
    recording: Recording | SampleGrid,
    *,
    layers=None,
    hrf_model="glover",
    oversampling: int = 10,
    events_as: str = "impulse",
    normalize: bool = False,
    name_prefix: str = "",
    tolerance_s: float | None = None,
) -> dict[str, DesignMatrix]:
    """HRF-convolved, amplitude-modulated event regressors, one design per layer.

    Every feature dimension becomes a regressor: an impulse at each event's
    onset (or a box over its duration) with height equal to the event's
    feature value, convolved with a nilearn HRF and read at the recording's
    sample times (sample ``i`` of a run at ``i * TR`` seconds).  The kernel is
    scaled to peak at 1, so one event of value 1 gives a response that peaks
    near 1 about 5 s later (Glover HRF).

    Parameters
    ----------
    features : FeatureSet
        Feature rows aligned to a timeline whose runs match the recording's.
    recording : Recording or SampleGrid
        Gives the runs, their lengths and the TR.
    layers : str, int or list, optional
        Layers to use (default all).
    hrf_model : str, callable or None
        ``"glover"``, ``"spm"`` (optionally ``" + derivative"`` and
        ``" + derivative + dispersion"``, which add columns) or a callable
        ``f(t_r, oversampling)`` returning a kernel sampled every
        ``t_r / oversampling`` s from 0 s (for unconvolved features use
        :func:`resample_to_samples`).
    oversampling : int
        Time resolution of the convolution: events are placed on a grid of
        ``TR / oversampling`` seconds.
    events_as : {"impulse", "boxcar"}
        Unit-area impulse at the onset, or the value spread over
        ``[onset, offset)`` (zero-duration events stay impulses).
    normalize : bool
        Z-score every column within each run (constant columns become 0).
    name_prefix : str
        Prepended to each design's ``name`` (the dict stays keyed by layer).
    tolerance_s : float, optional
        How far (s) past the end of a run an event may start (default one TR).

    Returns
    -------
    dict of str to DesignMatrix
        Keyed by layer name; rows are the recording's samples, columns
        ``dim{j}`` (plus ``dim{j}_derivative`` ... for derivative models).

    Raises
    ------
    BrainalignInputError
        When features have a run the recording lacks, or events start after
        the end of their run.  Recording runs without events get zero rows and
        a warning.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> tl = Timeline(["a", "b"], onsets=[10.0, 30.0])
    >>> fs = FeatureSet({"layer.0": np.ones((2, 1))}, tl)
    >>> X = hrf_design(fs, SampleGrid({"run-1": 40}, 1.0))["layer.0"].X[:, 0]
    >>> int(np.argmax(X))  # peak ~5 s after the first word
    15
    """
    grid = SampleGrid.of(recording)
    names = select_layers(features, layers)
    oversampling = positive_int(oversampling, "oversampling")
    kernels, suffixes = hrf_kernels(hrf_model, grid.sampling_period, oversampling)
    tl = features.timeline
    index = events_by_run(tl, grid, tolerance_s=tolerance_s)
    weights = {
        run: [
            event_weights(tl.onsets[idx], tl.offsets[idx], grid.run_lengths_[run], grid.sampling_period,
                          k, oversampling, events_as)
            for k in kernels
        ]
        for run, idx in index.items()
    }
    for run, idx in index.items():
        main = abs(weights[run][0])
        check_events_reach(run, tl.onsets[idx], np.asarray(main.sum(axis=0)).ravel() > 0, grid, "hrf")
    runs = grid.runs
    params = {
        "method": "hrf",
        "hrf_model": hrf_model if isinstance(hrf_model, str) or hrf_model is None else repr(hrf_model),
        "oversampling": oversampling,
        "events_as": events_as,
        "normalize": bool(normalize),
        "kernel_peak": 1.0,
    }
    designs = {}
    for layer in names:
        F = np.asarray(features[layer], dtype=np.float64)
        blocks = []
        for run, idx in index.items():
            parts = [np.asarray(W @ F[idx]) for W in weights[run]]
            blocks.append(np.hstack(parts) if len(parts) > 1 else parts[0])
        X = np.vstack(blocks)
        if normalize:
            X = zscore_within_runs(X, runs)
        dims = F.shape[1]
        if len(kernels) > 1:
            # interleave so that a dimension's kernels sit side by side
            order = np.arange(dims * len(kernels)).reshape(len(kernels), dims).T.ravel()
            X = X[:, order]
        columns = [f"dim{j}{s}" for j in range(dims) for s in suffixes]
        designs[layer] = DesignMatrix(
            X.astype(np.float32), runs, grid.sampling_period, f"{name_prefix}{layer}", columns,
            provenance(features, layer, grid.key, params),
        )
    return designs


def event_rate_design(
    timeline: Timeline,
    recording: Recording | SampleGrid,
    *,
    hrf_model="glover",
    oversampling: int = 10,
    events_as: str = "impulse",
    name: str = "word_rate",
    tolerance_s: float | None = None,
) -> DesignMatrix:
    """One regressor: every event with amplitude 1, convolved with the HRF.

    The usual low-level baseline (word rate) that a model's features should
    beat.

    Examples
    --------
    >>> from brainalign import Timeline
    >>> tl = Timeline(["a", "b", "c"], onsets=[1.0, 1.5, 9.0])
    >>> event_rate_design(tl, SampleGrid({"run-1": 20}, 2.0)).X.shape
    (20, 1)
    """
    if not isinstance(timeline, Timeline):
        raise BrainalignInputError(f"Expected a brainalign Timeline, got {type(timeline).__name__}.")
    ones = FeatureSet({name: np.ones((timeline.n_events, 1))}, timeline, {"model_id": "event_rate"})
    design = hrf_design(
        ones, recording, hrf_model=hrf_model, oversampling=oversampling, events_as=events_as,
        tolerance_s=tolerance_s,
    )[name]
    design.feature_names = [name] if len(design.feature_names) == 1 else [
        n.replace("dim0", name) for n in design.feature_names
    ]
    design.metadata["baseline"] = "event_rate"
    return design
