"""Helpers shared by the dataset modules: missing-file errors that say how to get the file, MATLAB strings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._fetch import DataUnavailableError
from ._registry import get_dataset_info


def missing_file(name: str, path: Path, what: str, how: str | None = None) -> DataUnavailableError:
    """The error for a file of dataset ``name`` that is not at ``path``: what it is and how to get it."""
    info = get_dataset_info(name)
    how = how or f"download it from {info.landing_url} keeping the release's layout"
    return DataUnavailableError(f"{what} not found: expected {path}. To get it, {how}. See {info.card}.")


def require_file(name: str, path: Path, what: str, how: str | None = None) -> Path:
    """``path`` if it is a file, else :func:`missing_file`'s error."""
    if not path.is_file():
        raise missing_file(name, path, what, how)
    return path


def mat_strings(cell) -> list[str]:
    """A MATLAB cell array of strings (as scipy.io.loadmat returns it) as a list of str."""
    out = []
    for item in np.asarray(cell, dtype=object).ravel():
        while isinstance(item, np.ndarray) and item.dtype == object and item.size == 1:
            item = item.ravel()[0]
        if isinstance(item, np.ndarray):
            item = "".join(str(x) for x in item.ravel()) if item.dtype.kind in "U" else str(item.ravel()[0])
        out.append(str(item).strip())
    return out
