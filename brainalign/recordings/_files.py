"""Recordings and designs from user files (what ``brainalign encode`` and the files adapter read)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, DesignMatrix

#: per-run cleaning of a recording read from files
CLEANING = {"none": dict(detrend=False, standardize=False),
            "detrend": dict(detrend=True, standardize="zscore_sample"),
            "zscore": dict(detrend=False, standardize="zscore_sample")}


def read_matrix(path: str | Path) -> np.ndarray:
    """Rows = samples from .npy or delimited text (a non-numeric first row is taken as a header).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rate.tsv"
    >>> _ = path.write_text("rate\\n1\\n2\\n")
    >>> read_matrix(path).tolist()
    [[1.0], [2.0]]
    """
    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"No such file: {path}")
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
    else:
        import pandas as pd

        sep = "\t" if path.suffix == ".tsv" else "," if path.suffix == ".csv" else r"\s+"
        first = path.read_text().splitlines()[0].replace(",", " ").split()
        header = 0 if any(not _is_number(tok) for tok in first) else None
        arr = pd.read_csv(path, sep=sep, header=header, engine="python").to_numpy(dtype=np.float64)
    arr = np.asarray(arr, dtype=np.float64)
    return arr[:, None] if arr.ndim == 1 else arr


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def load_recording(files: Sequence[str | Path], *, tr: float | None = None, mask=None,
                   runs: Sequence[str] | None = None, subject: str = "sub-01", skip_rows: int = 0,
                   clean: str = "detrend"):
    """A Recording from files, one per run: ROI/time-course text or .npy files, or NIfTI images.

    Parameters
    ----------
    files : sequence of path
    tr : float or None
        Sampling period in seconds (required for text/.npy; read from NIfTI headers).
    mask : path, image or None
        Voxel mask of NIfTI recordings (default: computed).
    runs : sequence of str or None
        Run labels (default run-1, run-2, ...).
    subject : str
    skip_rows : int
        Leading rows dropped from each text run.
    clean : {"none", "detrend", "zscore"}
        Per-run cleaning (``"detrend"``: detrend + z-score).

    Returns
    -------
    Recording
    """
    from ._fmri import load_fmri
    from ._surface import load_roi_timecourses

    if clean not in CLEANING:
        raise BrainalignInputError(f"clean must be one of {', '.join(map(repr, CLEANING))}, got {clean!r}.")
    files = [Path(p) for p in ([files] if isinstance(files, (str, Path)) else files)]
    if not files:
        raise BrainalignInputError("load_recording needs at least one file.")
    is_nifti = [p.name.endswith((".nii", ".nii.gz")) for p in files]
    options = CLEANING[clean]
    if all(is_nifti):
        return load_fmri([str(p) for p in files], mask_img=mask, tr=tr, runs=runs, subject=subject, **options)
    if any(is_nifti):
        raise BrainalignInputError("The recording files mix NIfTI images and text files; give one kind.")
    if tr is None:
        raise BrainalignInputError("--tr is required for text/.npy recordings (they carry no sampling period): pass tr=.")
    sources = [str(p) if p.suffix != ".npy" else np.load(p, allow_pickle=False) for p in files]
    return load_roi_timecourses(sources if len(sources) > 1 else sources[0], tr, runs=runs,
                                skip_rows=skip_rows, subject=subject, **options)


def file_stem(path) -> str:
    """A file's name without its data suffix (.npy, .tsv, .csv, .txt): the default layer name."""
    name = Path(path).name
    for suffix in (".npy", ".tsv", ".csv", ".txt"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def design_from_file(path: str | Path, recording, name: str | None = None) -> DesignMatrix:
    """A design already on ``recording``'s grid from a file (rows = samples); named after the file."""
    X = read_matrix(path)
    if X.shape[0] != recording.n_samples:
        raise BrainalignInputError(
            f"{path} has {X.shape[0]} rows but the recording has {recording.n_samples} samples."
        )
    return DesignMatrix(X, recording.runs, recording.sampling_period, name or file_stem(path),
                        metadata={"method": "provided", "source": str(path)})


def baseline_from_files(paths: Sequence[str | Path] | None, recording) -> DesignMatrix | None:
    """Baseline regressors from files on ``recording``'s grid (stacked, named "baseline"); None without files."""
    if not paths:
        return None
    parts = [design_from_file(p, recording) for p in paths]
    return DesignMatrix.stack(parts, name="baseline") if len(parts) > 1 else parts[0]
