"""Baseline designs that every encoding score is compared against."""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError, DesignMatrix, Recording
from ..core.validation import positive_int, positive_seconds


def autocorrelation_baseline(recording: Recording, *, min_period_s: float | None = None,
                             max_components: int = 200) -> DesignMatrix:
    """A "model" that knows only *when* a sample was taken: a smooth basis of time per run.

    Cosines (discrete cosine basis) of the time within each run, with periods
    down to ``min_period_s`` (the same columns for every run).  It carries no
    stimulus information at all, so any score it gets comes from the temporal
    autocorrelation of the data: high under shuffled K-fold (test samples are
    interpolated from their training neighbours), near zero under blocked CV
    with gaps.  Reported next to every layer, it shows how much a
    cross-validation scheme leaks.

    Parameters
    ----------
    recording : Recording
    min_period_s : float or None
        Shortest period in the basis; default ``max(20 s, 10 samples)``
        (faster components would mostly fit noise).
    max_components : int
        Upper bound on cosines per run.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Recording
    >>> rec = Recording(np.random.default_rng(0).normal(size=(200, 2)), sampling_period=2.0)
    >>> autocorrelation_baseline(rec).X.shape
    (200, 40)
    """
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    if min_period_s is None:
        min_period_s = max(20.0, 10 * recording.sampling_period)
    min_period_s = positive_seconds(min_period_s, "min_period_s", "the shortest period of the basis in seconds")
    max_components = positive_int(max_components, "max_components")
    runs = np.asarray(recording.runs)
    lengths = recording.run_lengths()
    longest = max(lengths.values())
    duration = longest * recording.sampling_period
    # cosine k has period 2 * duration / k; shared columns = the same function of time-in-run for every run
    n_comp = int(min(max_components, max(1, np.floor(2 * duration / min_period_s)), longest - 1))
    k = np.arange(1, n_comp + 1)
    X = np.zeros((recording.n_samples, n_comp), dtype=np.float32)
    for run in recording.run_ids:
        t = (np.arange(lengths[run]) + 0.5) / longest
        X[runs == run] = np.cos(np.pi * t[:, None] * k[None, :])
    names = [f"cos{j}" for j in k]
    return DesignMatrix(X, recording.runs, recording.sampling_period, name="autocorrelation",
                        feature_names=names,
                        metadata={"method": "time-basis", "min_period_s": float(min_period_s),
                                  "description": "cosines of time within run; no stimulus information"})
