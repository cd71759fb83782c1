"""Input checks shared by the data model: one place for clear, specific errors."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np


class BrainalignInputError(ValueError):
    """Inputs that do not fit together (lengths, ordering, NaNs, unknown names).

    Subclasses :class:`ValueError` so that generic handlers keep working.
    """


def _array(values, name: str) -> np.ndarray:
    """``values`` as an array, refusing None, sparse matrices and complex numbers by name."""
    if values is None:
        raise BrainalignInputError(f"{name} is missing (None).")
    if hasattr(values, "toarray") and hasattr(values, "nnz"):
        raise BrainalignInputError(
            f"{name} is a sparse matrix ({type(values).__name__}); pass a dense array (values.toarray())."
        )
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise BrainalignInputError(f"{name} must be an array of numbers: {err}") from None
    if np.iscomplexobj(arr):
        raise BrainalignInputError(f"{name} holds complex numbers; pass real values (e.g. their magnitude).")
    return arr


def _numeric_array(values, name: str, dtype) -> np.ndarray:
    """``values`` as a real array of ``dtype``; text or objects get an error naming ``name``."""
    arr = _array(values, name)
    try:
        return arr.astype(dtype, copy=False)
    except (TypeError, ValueError) as err:
        kind = "text" if arr.dtype.kind in "US" else arr.dtype
        raise BrainalignInputError(f"{name} must hold numbers, got {kind} ({err}).") from None


def as_float_array(values, name: str) -> np.ndarray:
    """``values`` as a float64 array of any shape, or a clear error (missing, text, complex, sparse)."""
    return _numeric_array(values, name, np.float64)


def as_1d_float(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array or raise a clear error."""
    arr = _numeric_array(values, name, np.float64)
    if arr.ndim != 1:
        raise BrainalignInputError(f"{name} must be 1-D, got shape {arr.shape}.")
    return arr


def as_2d_float(values, name: str, dtype=np.float32) -> np.ndarray:
    """Return ``values`` as a 2-D floating array (no copy when already right)."""
    arr = values if isinstance(values, np.ndarray) else _array(values, name)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = _numeric_array(arr, name, dtype)
    if arr.ndim == 1:
        raise BrainalignInputError(
            f"{name} must be 2-D (n_samples, n_columns), got a 1-D array of length "
            f"{arr.shape[0]}; reshape with values[:, None] for a single column."
        )
    if arr.ndim != 2:
        raise BrainalignInputError(f"{name} must be 2-D, got shape {arr.shape}.")
    return arr


def positive_seconds(value, name: str = "sampling_period", hint: str = "", unit: str = "seconds") -> float:
    """``value`` as a positive finite float (of ``unit``), or a clear error naming ``name``.

    ``None`` (a missing TR or sampling rate) and non-numbers get their own
    message instead of numpy's ``ufunc 'isfinite' not supported``.
    """
    hint = hint or "the seconds between samples (the TR for fMRI, 1 / sfreq for M/EEG)"
    what = f"a positive number of {unit}" if unit else "a positive number"
    if value is None:
        raise BrainalignInputError(f"{name} is missing (None); give {hint}.")
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise BrainalignInputError(f"{name} must be {what}, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BrainalignInputError(f"{name} must be {what}, got {type(value).__name__} {value!r}.") from None
    if not (np.isfinite(number) and number > 0):
        raise BrainalignInputError(f"{name} must be {what}, got {value!r}.")
    return number


def positive_or_zero(value, name: str, unit: str = "seconds") -> float:
    """A finite number (of ``unit``) >= 0, or a clear error naming ``name``."""
    what = f"a number of {unit} >= 0" if unit else "a number >= 0"
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise BrainalignInputError(f"{name} must be {what}, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BrainalignInputError(f"{name} must be {what}, got {value!r}.") from None
    if not np.isfinite(number) or number < 0:
        raise BrainalignInputError(f"{name} must be {what}, got {value!r}.")
    return number


def as_path(path, what: str = "file"):
    """``path`` as a :class:`pathlib.Path`; anything but a str or path-like gets a clear error."""
    from pathlib import Path

    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    raise BrainalignInputError(f"The {what} path must be a str or path-like object, got {type(path).__name__} {path!r}.")


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1 (whole floats accepted), or a clear error naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or not np.isfinite(value) or not float(value).is_integer() or value < 1:
        raise BrainalignInputError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_same_length(name_a: str, len_a: int, name_b: str, len_b: int) -> None:
    if len_a != len_b:
        raise BrainalignInputError(
            f"Length mismatch: {name_a} has {len_a} entries but {name_b} has {len_b}."
        )


def check_finite(arr: np.ndarray, name: str, column_names: Sequence[str] | None = None) -> None:
    """Raise naming the first offending columns when ``arr`` holds NaN or inf."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    if arr.ndim == 1:
        bad = np.flatnonzero(~finite)
        raise BrainalignInputError(
            f"{name} contains {bad.size} non-finite value(s) (NaN or inf), first at index "
            f"{bad[:5].tolist()}."
        )
    bad_cols = np.flatnonzero(~finite.all(axis=0))
    shown = _name_columns(bad_cols, column_names)
    raise BrainalignInputError(
        f"{name} contains NaN or inf in {bad_cols.size} column(s): {shown}."
    )


def _name_columns(indices: np.ndarray, names: Sequence[str] | None, limit: int = 10) -> str:
    picked = indices[:limit]
    if names is not None:
        text = ", ".join(repr(str(names[i])) for i in picked)
    else:
        text = ", ".join(str(int(i)) for i in picked)
    if indices.size > limit:
        text += f", ... ({indices.size - limit} more)"
    return text


def run_labels(runs, n: int, name: str = "runs") -> np.ndarray:
    """Normalise run labels to a 1-D array of ``str`` of length ``n``.

    ``None`` means a single run called ``"run-1"``.
    """
    if runs is None:
        return np.full(n, "run-1", dtype=object)
    arr = np.asarray(runs)
    if arr.ndim == 0:
        return np.full(n, str(arr.item()), dtype=object)
    if arr.ndim != 1:
        raise BrainalignInputError(f"{name} must be 1-D, got shape {arr.shape}.")
    check_same_length(name, arr.shape[0], "the data", n)
    return np.array([str(r) for r in arr], dtype=object)


def ordered_unique(labels: np.ndarray) -> list[str]:
    """Unique labels in order of first appearance."""
    seen: dict[str, None] = {}
    for label in labels:
        seen.setdefault(str(label), None)
    return list(seen)


def count_by_run(labels: np.ndarray) -> dict[str, int]:
    """Number of rows of each run, in order of first appearance."""
    return {run: int(np.sum(labels == run)) for run in ordered_unique(labels)}


def check_runs_contiguous(runs: np.ndarray, name: str) -> None:
    """Each run must occupy one contiguous block of rows (no interleaving)."""
    if runs.size == 0:
        return
    changes = np.flatnonzero(runs[1:] != runs[:-1]) + 1
    starts = np.concatenate([[0], changes])
    labels = [runs[i] for i in starts]
    if len(labels) != len(set(labels)):
        dup = next(lab for lab in labels if labels.count(lab) > 1)
        raise BrainalignInputError(
            f"{name}: rows of run {dup!r} are not contiguous; sort rows by run first."
        )
