"""Timelines from tables: BIDS ``events.tsv`` and word-timing CSV/TSV files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, Timeline
from ..core.validation import as_path
from ._common import build_timeline

logger = logging.getLogger("brainalign.stimuli")

#: Columns tried, in order, for the event label of a BIDS events file.
EVENT_TOKEN_COLUMNS = ("word", "trial_type", "stim_file", "value")
WORD_TOKEN_COLUMNS = ("token", "word", "text", "label")
ONSET_COLUMNS = ("onset", "start", "tmin", "xmin")
OFFSET_COLUMNS = ("offset", "end", "stop", "tmax", "xmax")


def _read_table(path: Path, sep: str | None) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"Table {path} does not exist.")
    if sep is None:
        sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        # Only BIDS' "n/a" (and empty fields) are missing: words like "NA" or "null" are words.
        frame = pd.read_csv(path, sep=sep, na_values=["n/a", "N/A", ""], keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BrainalignInputError(f"Cannot read table {path}: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise BrainalignInputError(f"Table {path} has no rows.")
    return frame


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise BrainalignInputError(
            f"{path}: column {column!r} must be numeric (seconds); row {i + 1} holds {frame[column].iloc[i]!r}."
        )
    return values.to_numpy(dtype=float)


def _first_present(frame: pd.DataFrame, candidates: Sequence[str], what: str, path: Path, required=True):
    lowered = {c.lower(): c for c in frame.columns}
    for cand in candidates:
        if cand.lower() in lowered:
            return lowered[cand.lower()]
    if required:
        raise BrainalignInputError(
            f"{path} has no {what} column; expected one of {list(candidates)}, found {list(frame.columns)}."
        )
    return None


def read_events_tsv(
    path: str | os.PathLike,
    token_col: str | None = None,
    run: str | None = None,
    trial_types: Sequence[str] | None = None,
    sep: str = "\t",
) -> Timeline:
    """Read a BIDS ``*_events.tsv`` file as a :class:`~brainalign.Timeline`.

    Parameters
    ----------
    path : str or path-like
        Tab-separated file with at least ``onset`` (and usually ``duration``).
    token_col : str or None
        Column giving each event's label.  ``None`` takes the first of
        ``word``, ``trial_type``, ``stim_file``, ``value`` that exists.
    run : str or None
        Run label of every event (default ``"run-1"``).
    trial_types : sequence of str or None
        Keep only rows whose ``trial_type`` is one of these.
    sep : str
        Field separator (BIDS mandates a tab).

    Notes
    -----
    ``n/a`` follows BIDS: an ``n/a`` **duration** means an instantaneous
    event (duration 0); rows whose **label** is ``n/a`` are not events of
    that kind (e.g. non-word rows of a ``word`` column) and are left out,
    with a log message giving their number.  An ``n/a`` **onset** is an
    error.  Rows must already be sorted by onset: unsorted rows raise,
    naming the file and the first offending row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "events.tsv"
    >>> _ = p.write_text("onset\\tduration\\ttrial_type\\n0.5\\t1.0\\tface\\n2.0\\tn/a\\thouse\\n")
    >>> tl = read_events_tsv(p)
    >>> list(tl.tokens), tl.durations.tolist()
    (['face', 'house'], [1.0, 0.0])
    """
    path = as_path(path, "table")
    frame = _read_table(path, sep)
    if "onset" not in frame.columns:
        raise BrainalignInputError(f"{path} has no 'onset' column (BIDS events); columns are {list(frame.columns)}.")
    if token_col is None:
        token_col = _first_present(frame, EVENT_TOKEN_COLUMNS, "event label", path)
    elif token_col not in frame.columns:
        raise BrainalignInputError(f"{path} has no column {token_col!r}; columns are {list(frame.columns)}.")
    if trial_types is not None:
        if "trial_type" not in frame.columns:
            raise BrainalignInputError(f"trial_types= given but {path} has no 'trial_type' column.")
        present = set(frame["trial_type"].dropna().astype(str))
        unknown = sorted(set(trial_types) - present)
        if unknown:
            raise BrainalignInputError(
                f"{path}: trial type(s) {unknown} do not occur; present are {sorted(present)}."
            )
        frame = frame[frame["trial_type"].astype(str).isin(list(trial_types))]
    onsets = _numeric(frame, "onset", path)
    if np.isnan(onsets).any():
        i = int(np.flatnonzero(np.isnan(onsets))[0])
        raise BrainalignInputError(f"{path}: row {i + 1} has no onset ('n/a').")
    if "duration" in frame.columns:
        durations = np.nan_to_num(_numeric(frame, "duration", path), nan=0.0)
    else:
        durations = np.zeros_like(onsets)
    labels = frame[token_col]
    keep = labels.notna().to_numpy()
    if not keep.all():
        logger.info("%s: %d row(s) with n/a %r left out.", path, int((~keep).sum()), token_col)
    if not keep.any():
        raise BrainalignInputError(f"{path}: every value of column {token_col!r} is n/a; no events.")
    return build_timeline(
        labels[keep].astype(str).tolist(),
        onsets[keep],
        onsets[keep] + durations[keep],
        run,
        source=f"events file {path}",
    )


def read_word_table(
    path: str | os.PathLike,
    token_col: str | None = None,
    run: str | None = None,
    sep: str | None = None,
) -> Timeline:
    """Read word timings from a CSV / TSV table.

    Columns (case-insensitive): a token column (``token``, ``word``, ``text``
    or ``label``), ``onset`` (or ``start``), then ``offset`` (``end``,
    ``stop``) or ``duration``, and optionally ``run`` (one block per run,
    in file order).  Without a run column every word gets ``run``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "words.csv"
    >>> _ = p.write_text("word,onset,offset,run\\nOnce,0.1,0.4,a\\nupon,0.4,0.7,a\\ntime,0.2,0.5,b\\n")
    >>> tl = read_word_table(p)
    >>> tl.run_ids, tl.n_events
    (['a', 'b'], 3)
    """
    path = as_path(path, "table")
    frame = _read_table(path, sep)
    if token_col is None:
        token_col = _first_present(frame, WORD_TOKEN_COLUMNS, "token", path)
    elif token_col not in frame.columns:
        raise BrainalignInputError(f"{path} has no column {token_col!r}; columns are {list(frame.columns)}.")
    onset_col = _first_present(frame, ONSET_COLUMNS, "onset", path)
    onsets = _numeric(frame, onset_col, path)
    offset_col = _first_present(frame, OFFSET_COLUMNS, "offset", path, required=False)
    if offset_col is not None:
        offsets = _numeric(frame, offset_col, path)
    elif "duration" in [c.lower() for c in frame.columns]:
        dur_col = _first_present(frame, ("duration",), "duration", path)
        offsets = onsets + _numeric(frame, dur_col, path)
    else:
        offsets = None
    for name, values in (("onset", onsets), ("offset", offsets)):
        if values is not None and np.isnan(values).any():
            i = int(np.flatnonzero(np.isnan(values))[0])
            raise BrainalignInputError(f"{path}: row {i + 1} has a missing {name}.")
    tokens = frame[token_col]
    if tokens.isna().any():
        i = int(np.flatnonzero(tokens.isna().to_numpy())[0])
        raise BrainalignInputError(f"{path}: row {i + 1} has an empty {token_col!r}.")
    run_col = _first_present(frame, ("run",), "run", path, required=False)
    runs = frame[run_col].astype(str).to_numpy() if run_col is not None else run
    return build_timeline(tokens.astype(str).tolist(), onsets, offsets, runs, source=f"word table {path}")
