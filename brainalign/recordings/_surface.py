"""Surface fMRI (GIfTI) and plain ROI time-course tables to Recordings."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, Recording, hash_file
from ..core.validation import as_float_array, as_path
from ..core.validation import positive_seconds
from ._space import wrap_dropped
from ._clean import clean_run, cleaning_metadata, confounds_per_run, read_confounds, run_names

logger = logging.getLogger("brainalign.recordings")


class SurfaceSpace:
    """The vertex layout of surface data: how to go from targets back to GIfTI images.

    Parameters
    ----------
    n_vertices : sequence of int
        Vertices per hemisphere (or per surface file), in column order.
    names : sequence of str or None
        Hemisphere names, e.g. ``["left", "right"]``.

    Examples
    --------
    >>> space = SurfaceSpace([3, 2], ["left", "right"])
    >>> left, right = space.inverse_transform(np.arange(5.0))
    >>> left.darrays[0].data.tolist(), right.darrays[0].data.tolist()
    ([0.0, 1.0, 2.0], [3.0, 4.0])
    """

    def __init__(self, n_vertices: Sequence[int], names: Sequence[str] | None = None):
        self.n_vertices = [int(n) for n in n_vertices]
        self.names = list(names) if names is not None else [f"surface-{i + 1}" for i in range(len(self.n_vertices))]

    @property
    def n_targets(self) -> int:
        return int(sum(self.n_vertices))

    def inverse_transform(self, values):
        """One GIfTI image per surface (a tuple when there are several); one data array per map."""
        import nibabel as nib

        values = np.atleast_2d(np.asarray(values, dtype=np.float32))
        if values.shape[-1] != self.n_targets:
            raise BrainalignInputError(f"Expected {self.n_targets} values per map, got {values.shape[-1]}.")
        images, start = [], 0
        for n in self.n_vertices:
            block = values[:, start : start + n]
            start += n
            darrays = [nib.gifti.GiftiDataArray(row, intent="NIFTI_INTENT_NONE", datatype="NIFTI_TYPE_FLOAT32")
                       for row in block]
            images.append(nib.gifti.GiftiImage(darrays=darrays))
        return images[0] if len(images) == 1 else tuple(images)

    def __repr__(self) -> str:
        return f"SurfaceSpace(n_vertices={self.n_vertices}, names={self.names})"


def _read_gifti(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """(n_times, n_vertices) data of a functional GIfTI and its TimeStep (s) if stored."""
    import nibabel as nib

    path = as_path(path, "GIfTI")
    if not path.is_file():
        raise FileNotFoundError(f"GIfTI file {path} does not exist.")
    try:
        img = nib.load(path)
        arrays = [np.asarray(d.data) for d in img.darrays]
    except Exception as exc:  # nibabel raises many types on a broken XML / payload
        raise BrainalignInputError(f"Cannot read GIfTI file {path}: {type(exc).__name__}: {exc}") from None
    if not arrays:
        raise BrainalignInputError(f"GIfTI file {path} holds no data arrays.")
    if len(arrays) == 1 and arrays[0].ndim == 2:
        data = arrays[0].T
    else:
        if any(a.ndim != 1 for a in arrays) or len({a.size for a in arrays}) != 1:
            raise BrainalignInputError(
                f"GIfTI file {path}: expected one data array per time point (all the same length)."
            )
        data = np.stack(arrays)
    step = None
    for meta in [img.meta] + [d.meta for d in img.darrays[:1]]:
        if meta is not None and "TimeStep" in meta:
            step = float(meta["TimeStep"]) / 1000.0  # GIfTI stores it in ms
    return data.astype(np.float32), step


def load_surface(
    gifti_paths,
    *,
    tr: float,
    runs: Sequence[str] | None = None,
    hemispheres: Sequence[str] | None = None,
    confounds=None,
    high_pass: float | None = None,
    low_pass: float | None = None,
    detrend: bool = True,
    standardize: str | bool = "zscore_sample",
    subject: str = "sub-01",
    on_bad_targets: str = "raise",
) -> Recording:
    """Load functional GIfTI files (one per run, or one tuple of hemispheres per run).

    Parameters
    ----------
    gifti_paths : path, list of paths, or list of tuples of paths
        ``[run1.func.gii, run2.func.gii]`` or ``[(lh_run1, rh_run1), ...]``;
        hemispheres are concatenated column-wise in the order given.
    tr : float
        Repetition time (s).  A ``TimeStep`` stored in the file (ms) must agree.
    hemispheres : list of str or None
        Names of the surfaces in each tuple (default ``left``, ``right``).
    on_bad_targets : {"raise", "drop"}
        Surfaces with a medial wall hold constant vertices: pass ``"drop"``
        to leave them out (they come back as 0 in ``to_image``).
    Other parameters are as in :func:`load_fmri`.

    Returns
    -------
    Recording
        ``kind="fmri"``, ``space`` a :class:`SurfaceSpace` whose
        ``inverse_transform`` returns ``nibabel.gifti.GiftiImage`` objects.
    """
    if isinstance(gifti_paths, (str, os.PathLike)):
        gifti_paths = [gifti_paths]
    per_run = [tuple(p) if isinstance(p, (list, tuple)) else (p,) for p in gifti_paths]
    if not per_run:
        raise BrainalignInputError("No GIfTI files given.")
    if len({len(p) for p in per_run}) != 1:
        raise BrainalignInputError("Every run must give the same number of surface files.")
    n_surf = len(per_run[0])
    names = list(hemispheres) if hemispheres is not None else (["left", "right"] if n_surf == 2 else None)
    labels = run_names(runs, len(per_run))
    confound_list = confounds_per_run(confounds, len(per_run))
    tr = positive_seconds(tr, "tr", "the repetition time in seconds")
    blocks, run_col, n_vertices = [], [], None
    for label, files, conf in zip(labels, per_run, confound_list):
        parts = []
        for f in files:
            data, step = _read_gifti(f)
            if step is not None and step > 0 and abs(step - tr) > 1e-3 * tr:
                raise BrainalignInputError(f"tr={tr} s contradicts the TimeStep of {f} ({step} s).")
            parts.append(data)
        lengths = {p.shape[0] for p in parts}
        if len(lengths) != 1:
            raise BrainalignInputError(f"Run {label!r}: surface files {files} have different numbers of time points.")
        verts = [p.shape[1] for p in parts]
        if n_vertices is None:
            n_vertices = verts
        elif verts != n_vertices:
            raise BrainalignInputError(f"Run {label!r} has {verts} vertices, earlier runs {n_vertices}.")
        data = np.hstack(parts)
        data = clean_run(data, tr, detrend=detrend, standardize=standardize,
                         confounds=read_confounds(conf, data.shape[0], label), high_pass=high_pass,
                         low_pass=low_pass)
        blocks.append(data)
        run_col += [label] * data.shape[0]
    recording = Recording(
        np.vstack(blocks), tr, run_col, None, "fmri", SurfaceSpace(n_vertices, names), subject,
        {"sources": [str(f) for files in per_run for f in files],
         "cleaning": cleaning_metadata(detrend, standardize, high_pass, low_pass, confounds)},
        on_bad_targets,
    )
    return wrap_dropped(recording)


def _read_table(path: Path, skip_rows: int) -> tuple[np.ndarray, list[str] | None]:
    if not path.is_file():
        raise FileNotFoundError(f"Time-course file {path} does not exist.")
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False), None
    try:
        with warnings.catch_warnings():
            # an empty file only warns in numpy; it is refused below with the file's name
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(path, ndmin=2, skiprows=skip_rows,
                                delimiter="," if path.suffix.lower() == ".csv" else None)
        if values.size == 0:
            raise BrainalignInputError(f"Time-course file {path} has no data rows (after skipping {skip_rows}).")
        return values, None
    except ValueError as first_error:
        if isinstance(first_error, BrainalignInputError):
            raise
        problem = f"Cannot read time courses from {path}: {first_error} (ragged, truncated or non-numeric rows?)."
        with open(path, encoding="utf-8", errors="replace") as fh:
            for _ in range(skip_rows):
                fh.readline()
            first = fh.readline().replace(",", " ").split()
        if not first or _all_numbers(first):
            raise BrainalignInputError(problem) from None
        # The first row is a header of names: read by name with pandas.
        try:
            sep = "," if path.suffix.lower() == ".csv" else r"\s+"
            frame = pd.read_csv(path, sep=sep, skiprows=skip_rows, engine="python")
            values = frame.to_numpy(dtype=float)
        except (ValueError, pd.errors.ParserError):
            raise BrainalignInputError(problem) from None
        if np.isnan(values).any():
            row = int(np.flatnonzero(np.isnan(values).any(axis=1))[0])
            raise BrainalignInputError(f"{path}: data row {row + 1} is incomplete or non-numeric.")
        return values, [str(c) for c in frame.columns]


def _all_numbers(tokens) -> bool:
    try:
        [float(t) for t in tokens]
    except ValueError:
        return False
    return True


def load_roi_timecourses(
    path_or_array,
    tr: float,
    names: Sequence[str] | None = None,
    runs: Sequence[str] | None = None,
    skip_rows: int = 0,
    *,
    confounds=None,
    high_pass: float | None = None,
    low_pass: float | None = None,
    detrend: bool = False,
    standardize: str | bool = False,
    subject: str = "sub-01",
    kind: str = "roi",
    on_bad_targets: str = "raise",
) -> Recording:
    """ROI (or any) time courses from text files or arrays: rows = samples, columns = regions.

    Parameters
    ----------
    path_or_array : path, ndarray, or list of them (one per run)
        Whitespace/CSV text (optionally with a header row of names), ``.npy``,
        or an array of shape (n_samples, n_regions).
    tr : float
        Sampling period in seconds (text files carry no header to check it against).
    names : list of str or None
        Region names (default: the header row, else ``0``, ``1``, ...).
    runs : list of str or None
        Run labels (default ``run-1``, ...).
    skip_rows : int
        Leading rows to drop from each run (e.g. dummy scans still present).
    detrend, standardize, high_pass, low_pass, confounds
        Per-run cleaning as in :func:`load_fmri`; off by default, so the
        numbers are those of the file.

    Examples
    --------
    >>> data = np.random.default_rng(0).normal(size=(50, 2))
    >>> rec = load_roi_timecourses(data, tr=2.0, names=["A", "B"])
    >>> rec.target_names, rec.kind
    (['A', 'B'], 'roi')
    """
    if isinstance(skip_rows, (bool, np.bool_)) or not isinstance(skip_rows, (int, np.integer)) or skip_rows < 0:
        raise BrainalignInputError(f"skip_rows must be an int >= 0, got {skip_rows!r}.")
    items = list(path_or_array) if isinstance(path_or_array, (list, tuple)) else [path_or_array]
    labels = run_names(runs, len(items))
    confound_list = confounds_per_run(confounds, len(items))
    blocks, run_col, header_names, sources = [], [], None, []
    for label, item, conf in zip(labels, items, confound_list):
        if isinstance(item, (str, os.PathLike)):
            data, header_names = _read_table(Path(item), skip_rows)
            sources.append(str(item))
        else:
            data = as_float_array(item, f"time courses of run {label!r}")
            if data.ndim == 1:
                data = data[:, None]
            data = data[skip_rows:]
        if data.ndim != 2:
            raise BrainalignInputError(f"Run {label!r}: time courses must be 2-D, got shape {data.shape}.")
        data = clean_run(data, tr, detrend=detrend, standardize=standardize,
                         confounds=read_confounds(conf, data.shape[0], label), high_pass=high_pass,
                         low_pass=low_pass)
        if blocks and data.shape[1] != blocks[0].shape[1]:
            raise BrainalignInputError(
                f"Run {label!r} has {data.shape[1]} columns but run {labels[0]!r} has {blocks[0].shape[1]}."
            )
        blocks.append(np.asarray(data, dtype=np.float32))
        run_col += [label] * data.shape[0]
    names = names if names is not None else header_names
    return Recording(
        np.vstack(blocks), tr, run_col, names, kind, None, subject,
        {"sources": sources, "file_sha256": {s: hash_file(s) for s in sources},
         "skip_rows": skip_rows,
         "cleaning": cleaning_metadata(detrend, standardize, high_pass, low_pass, confounds)},
        on_bad_targets,
    )
