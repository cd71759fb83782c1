"""Read word stimuli for the ``brainalign extract`` command: word tables and plain stories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, Timeline

__all__ = ["read_word_table"]


def read_word_table(path: str | Path, *, words_per_second: float = 1.0, run: str | None = None) -> Timeline:
    """Read a word timeline from a TSV/CSV table or a plain-text story.

    Parameters
    ----------
    path : str or Path
        ``.tsv`` / ``.csv``: columns ``token`` and ``onset`` (seconds), optional
        ``offset`` (or ``duration``) and ``run``.  ``.txt``: running text, split
        on whitespace; it has no timing, so word ``i`` gets the *placeholder*
        onset ``i / words_per_second``.
    words_per_second : float
        Placeholder presentation rate for ``.txt`` stories.
    run : str, optional
        Run label for a ``.txt`` story (default: the file name without suffix).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "story.txt"
    >>> _ = p.write_text("Once upon a time")
    >>> read_word_table(p, words_per_second=2.0).onsets.tolist()
    [0.0, 0.5, 1.0, 1.5]
    """
    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"Stimulus file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", keep_default_na=False,
                            dtype={"token": str, "run": str})
        if frame.empty:
            raise BrainalignInputError(f"Stimulus table {path} has no rows.")
        return Timeline.from_frame(frame, duration_col="duration" if "duration" in frame.columns else None)
    if suffix == ".txt":
        words = path.read_text(encoding="utf-8").split()
        if not words:
            raise BrainalignInputError(f"Story {path} contains no words.")
        if words_per_second <= 0:
            raise BrainalignInputError(f"words_per_second must be > 0, got {words_per_second}.")
        onsets = np.arange(len(words)) / float(words_per_second)
        return Timeline(words, onsets, onsets + 1.0 / words_per_second, run or path.stem)
    raise BrainalignInputError(
        f"Unsupported stimulus file {path.name!r}: expected a .tsv/.csv word table "
        "(token, onset[, offset][, run]) or a .txt story."
    )
