"""Per-run temporal cleaning shared by every loader (nilearn.signal.clean under the hood)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError


def run_names(runs: Sequence[str] | None, n_runs: int) -> list[str]:
    """Run labels: given ones (checked) or ``run-1``, ``run-2``, ..."""
    if runs is None:
        return [f"run-{i + 1}" for i in range(n_runs)]
    if isinstance(runs, str) and n_runs == 1:
        runs = [runs]
    if isinstance(runs, str) or not np.iterable(runs):
        raise BrainalignInputError(f"runs must be a list with one label per run, got {type(runs).__name__} {runs!r}.")
    runs = [str(r) for r in runs]
    if len(runs) != n_runs:
        raise BrainalignInputError(f"Got {len(runs)} run labels for {n_runs} run(s) of data.")
    if len(set(runs)) != len(runs):
        raise BrainalignInputError(f"Run labels repeat: {runs}.")
    return runs


def confounds_per_run(confounds: Any, n_runs: int) -> list:
    """One confounds entry per run: a list with one entry per run, or one entry (or None) for a single run."""
    if isinstance(confounds, list):
        if len(confounds) != n_runs:
            raise BrainalignInputError(f"Got {len(confounds)} confounds for {n_runs} run(s); give one per run.")
        return confounds
    if confounds is not None and n_runs > 1:
        raise BrainalignInputError("With several runs, pass confounds as a list with one entry per run.")
    return [confounds] * n_runs


def read_confounds(confounds: Any, n_samples: int, run: str) -> np.ndarray | None:
    """One run's confounds as (n_samples, n_confounds): array, DataFrame, or a txt/tsv/csv file.

    fMRIPrep-style TSVs with a header are read by name; whitespace text files
    (SPM ``rp_*.txt``, FSL ``.par``) are read as plain numbers.  NaN (e.g. the
    first row of a derivative column) is an error: choose columns without it.
    """
    if confounds is None:
        return None
    source = f"confounds of run {run!r}"
    if isinstance(confounds, (str, os.PathLike)):
        path = Path(confounds)
        source = f"confounds file {path} (run {run!r})"
        if not path.is_file():
            raise FileNotFoundError(f"{source} does not exist.")
        if path.suffix.lower() in (".tsv", ".csv"):
            frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", na_values=["n/a"])
            confounds = frame
        else:
            try:
                confounds = np.loadtxt(path, ndmin=2)
            except ValueError as exc:
                raise BrainalignInputError(f"Cannot read {source}: {exc}") from None
    names = list(confounds.columns) if isinstance(confounds, pd.DataFrame) else None
    try:
        arr = np.asarray(confounds, dtype=float)
    except (TypeError, ValueError) as exc:
        raise BrainalignInputError(f"{source} must be numbers (an array, a DataFrame or a file): {exc}") from None
    if arr.ndim not in (1, 2):
        raise BrainalignInputError(f"{source} must be 1-D or 2-D (n_samples, n_confounds), got shape {arr.shape}.")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] != n_samples:
        raise BrainalignInputError(
            f"{source} has {arr.shape[0]} rows but the run has {n_samples} samples."
        )
    bad = ~np.isfinite(arr).all(axis=0)
    if bad.any():
        cols = [names[i] if names else i for i in np.flatnonzero(bad)]
        raise BrainalignInputError(f"{source} contain NaN/inf in column(s) {cols[:10]}.")
    return arr


def clean_run(
    data: np.ndarray,
    sampling_period: float,
    *,
    detrend: bool,
    standardize,
    confounds: np.ndarray | None,
    high_pass: float | None,
    low_pass: float | None,
) -> np.ndarray:
    """Detrend / filter / regress confounds / standardize one run with ``nilearn.signal.clean``."""
    if not detrend and not standardize and confounds is None and high_pass is None and low_pass is None:
        return data
    from nilearn.signal import clean

    nyquist = 0.5 / sampling_period
    for name, freq in (("high_pass", high_pass), ("low_pass", low_pass)):
        if freq is not None and (isinstance(freq, (bool, str)) or not isinstance(freq, (int, float, np.number))
                                 or not 0 < freq < nyquist):
            raise BrainalignInputError(
                f"{name}={freq!r} Hz is outside (0, {nyquist:g}) Hz, the range a sampling period of "
                f"{sampling_period} s allows."
            )
    if high_pass is not None and low_pass is not None and high_pass >= low_pass:
        raise BrainalignInputError(
            f"high_pass={high_pass} Hz must be below low_pass={low_pass} Hz (the band kept is between them)."
        )
    if standardize not in ("zscore_sample", "zscore", "psc", True, False, None):
        raise BrainalignInputError(
            f"standardize must be 'zscore_sample', 'zscore', 'psc' or False, got {standardize!r}."
        )
    # Flat columns divide by zero inside clean; Recording reports them by name afterwards.
    with np.errstate(invalid="ignore", divide="ignore"):
        cleaned = clean(
            np.asarray(data, dtype=np.float64),
            detrend=detrend,
            standardize=standardize if standardize else None,
            confounds=confounds,
            high_pass=high_pass,
            low_pass=low_pass,
            t_r=sampling_period,
            filter="butterworth" if (high_pass or low_pass) else False,
            standardize_confounds=True,
        )
    return cleaned.astype(np.float32)


def cleaning_metadata(detrend, standardize, high_pass, low_pass, confounds) -> dict:
    return {
        "detrend": bool(detrend),
        "standardize": standardize if standardize else False,
        "high_pass": high_pass,
        "low_pass": low_pass,
        "confounds": confounds is not None,
    }
