"""Design matrices: features resampled onto a recording's sample grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

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
    """

    X: np.ndarray
    runs: Sequence[str] | None
    sampling_period: float
    name: str = "features"
    feature_names: Sequence[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

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

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

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
        """Column-wise concatenation of designs built on the same grid."""
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
            {"stacked": [d.name for d in designs], "n_features": [d.n_features for d in designs]},
        )

    def __repr__(self) -> str:
        return (
            f"DesignMatrix(name={self.name!r}, n_samples={self.n_samples}, n_features={self.n_features}, "
            f"runs={self.run_ids}, method={self.metadata.get('method')!r})"
        )
