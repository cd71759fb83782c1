"""Design matrices: features resampled onto a recording's sample grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ._validation import (
    BrainalignInputError,
    as_2d_float,
    check_finite,
    check_runs_contiguous,
    check_same_length,
    positive_seconds,
    count_by_run,
    ordered_unique,
    run_labels,
)


def seconds_to_samples(seconds: float, sampling_period: float) -> int:
    """Samples needed to cover ``seconds`` at ``sampling_period`` (rounded up; 1e-9 s of float slack).

    The one conversion used for CV gaps, bootstrap blocks and delays.

    Examples
    --------
    >>> seconds_to_samples(20.0, 2.0), seconds_to_samples(21.0, 2.0), seconds_to_samples(0.0, 2.0)
    (10, 11, 0)
    """
    return int(math.ceil(float(seconds) / float(sampling_period) - 1e-9))


#: metadata keys of a design's delays / lags in seconds, and in samples
_DELAY_KEYS_S = ("delays_s", "lags_s", "delays", "lags")
_DELAY_KEYS_SAMPLES = ("delays_samples", "lags_samples")


@dataclass(frozen=True)
class Band:
    """A named group of consecutive design columns (a feature space: a layer, a baseline, ...).

    Parameters
    ----------
    name : str
    n_features : int
        Columns of the band.
    delays_s : tuple of float
        Delays / lags (seconds) the band's columns carry, ``()`` when none:
        the history a sample shares with its neighbours through the band (the
        CV gap is derived from it, see :func:`brainalign.encoding.default_gap_s`).
    metadata : mapping
        Free-form (method, source, ...).

    Examples
    --------
    >>> Band("layer.3", 384, (2.0, 4.0)).n_features
    384
    """

    name: str
    n_features: int
    delays_s: tuple[float, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.n_features, bool) or not isinstance(self.n_features, (int, np.integer)) or self.n_features < 1:
            raise BrainalignInputError(f"Band {self.name!r}: n_features must be an int >= 1, got {self.n_features!r}.")
        object.__setattr__(self, "n_features", int(self.n_features))
        object.__setattr__(self, "delays_s", tuple(float(d) for d in np.atleast_1d(self.delays_s).ravel())
                           if self.delays_s is not None else ())

    @property
    def history_s(self) -> float | None:
        """Largest absolute delay in seconds, ``None`` when the band has no delays."""
        return max(abs(d) for d in self.delays_s) if self.delays_s else None


def _delays_from_metadata(metadata: Mapping, sampling_period: float) -> tuple[float, ...]:
    """Delays / lags (seconds) recorded in a design's metadata by the alignment methods."""
    found: list[float] = []
    for key in _DELAY_KEYS_S:
        if metadata.get(key) is not None:
            found += [float(v) for v in np.atleast_1d(np.asarray(metadata[key], dtype=float)).ravel()]
    for key in _DELAY_KEYS_SAMPLES:
        if metadata.get(key) is not None:
            found += [float(v) * sampling_period for v in np.atleast_1d(np.asarray(metadata[key], dtype=float)).ravel()]
    return tuple(found)


@dataclass(eq=False)
class DesignMatrix:
    """Regressors of one layer (or baseline) on a recording's sample grid.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
        One row per recording sample, in the recording's row order.
    runs : sequence of str
        Run label of each row; must equal the recording's runs row by row.
    sampling_period : float
        Seconds between rows (TR or 1/sfreq).
    name : str
        Layer name (or ``"baseline"``), used to label results.
    feature_names : sequence of str or None
        Column names (e.g. ``"dim12@delay4s"``); optional.
    metadata : dict
        How it was built: ``method`` (``"hrf"``, ``"lanczos"``, ``"fir"``,
        ``"lagged"``), delays or lags, HRF model, source features' provenance.
    bands : sequence of Band or None
        The feature spaces, in column order (their sizes add up to the
        columns).  ``None``: one band named after the design, with the delays
        found in ``metadata`` (``delays_s``, ``lags_s``, ``delays_samples``, ...).
        :meth:`stack` keeps every input's bands.
    """

    X: np.ndarray
    runs: Sequence[str] | None
    sampling_period: float
    name: str = "features"
    feature_names: Sequence[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    bands: Sequence[Band] | None = None

    def __post_init__(self) -> None:
        X = as_2d_float(self.X, f"design {self.name!r}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise BrainalignInputError(
                f"design {self.name!r} is empty: shape {X.shape}; it needs at least one sample and one column."
            )
        check_finite(X, f"design {self.name!r}", self.feature_names)
        self.runs = run_labels(self.runs, X.shape[0], "design runs")
        check_runs_contiguous(self.runs, f"design {self.name!r}")
        self.sampling_period = positive_seconds(self.sampling_period, f"design {self.name!r} sampling_period")
        if self.feature_names is not None:
            self.feature_names = [str(n) for n in self.feature_names]
            check_same_length("feature_names", len(self.feature_names), "design columns", X.shape[1])
        self.X = X
        self.metadata = dict(self.metadata)
        if self.bands is None:
            self.bands = (Band(str(self.name), X.shape[1], _delays_from_metadata(self.metadata, self.sampling_period)),)
        else:
            bands = tuple(self.bands)
            if not bands or not all(isinstance(b, Band) for b in bands):
                raise BrainalignInputError(f"design {self.name!r}: bands must be a non-empty sequence of Band objects.")
            sizes = [b.n_features for b in bands]
            if sum(sizes) != X.shape[1]:
                raise BrainalignInputError(
                    f"design {self.name!r}: bands have {sizes} columns ({sum(sizes)} in all) but X has {X.shape[1]}."
                )
            self.bands = bands

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def band_sizes(self) -> list[int]:
        """Columns of each band, in order."""
        return [b.n_features for b in self.bands]

    def as_one_band(self, name: str | None = None) -> "DesignMatrix":
        """The same columns as a single band (e.g. a baseline stacked from several regressors).

        Its delays are the union of the bands' delays, so the CV gap is unchanged.
        """
        name = self.name if name is None else str(name)
        delays = tuple(d for b in self.bands for d in b.delays_s)
        return DesignMatrix(self.X, self.runs, self.sampling_period, name, self.feature_names, self.metadata,
                            (Band(name, self.n_features, delays),))

    @property
    def run_ids(self) -> list[str]:
        return ordered_unique(self.runs)

    def check_matches(self, recording) -> None:
        """Raise a specific error unless rows line up with ``recording`` run by run."""
        if not all(hasattr(recording, a) for a in ("sampling_period", "runs", "run_ids")):
            raise BrainalignInputError(
                f"Design {self.name!r} can only be matched with a brainalign Recording, got {type(recording).__name__}."
            )
        if abs(recording.sampling_period - self.sampling_period) > 1e-9 * max(1.0, self.sampling_period):
            raise BrainalignInputError(
                f"Design {self.name!r} has sampling period {self.sampling_period} s but the recording "
                f"has {recording.sampling_period} s."
            )
        if self.run_ids != recording.run_ids:
            raise BrainalignInputError(
                f"Design {self.name!r} has runs {self.run_ids} but the recording has {recording.run_ids}."
            )
        n_rec_by_run = count_by_run(recording.runs)
        for run, n_design in count_by_run(self.runs).items():
            n_rec = n_rec_by_run[run]
            if n_design != n_rec:
                raise BrainalignInputError(
                    f"Run {run!r}: design {self.name!r} has {n_design} rows but the recording has "
                    f"{n_rec} samples."
                )

    @classmethod
    def stack(cls, designs: Sequence["DesignMatrix"], name: str | None = None) -> "DesignMatrix":
        """Column-wise concatenation of designs built on the same grid; every input's bands are kept.

        Examples
        --------
        >>> import numpy as np
        >>> a = DesignMatrix(np.ones((4, 2)), None, 2.0, "baseline")
        >>> b = DesignMatrix(np.ones((4, 3)), None, 2.0, "layer", metadata={"delays_s": [2.0, 4.0]})
        >>> [(band.name, band.n_features, band.delays_s) for band in DesignMatrix.stack([a, b]).bands]
        [('baseline', 2, ()), ('layer', 3, (2.0, 4.0))]
        """
        if not designs:
            raise BrainalignInputError("Nothing to stack.")
        first = designs[0]
        for d in designs[1:]:
            if not np.array_equal(d.runs, first.runs) or d.sampling_period != first.sampling_period:
                raise BrainalignInputError(f"Designs {first.name!r} and {d.name!r} are on different grids.")
        names = None
        if all(d.feature_names is not None for d in designs):
            names = [f"{d.name}:{n}" for d in designs for n in d.feature_names]
        return cls(
            np.hstack([d.X for d in designs]),
            first.runs,
            first.sampling_period,
            name or "+".join(d.name for d in designs),
            names,
            {"stacked": [d.name for d in designs]},
            tuple(b for d in designs for b in d.bands),
        )

    def __repr__(self) -> str:
        return (
            f"DesignMatrix(name={self.name!r}, n_samples={self.n_samples}, n_features={self.n_features}, "
            f"runs={self.run_ids}, method={self.metadata.get('method')!r})"
        )
