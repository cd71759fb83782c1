"""Turn a stimulus file into a word timeline for ``brainalign extract``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core import BrainalignInputError, Timeline
from ..stimuli import read_textgrid, read_word_table, synthetic_speech_timeline

__all__ = ["read_stimulus_file"]


def read_stimulus_file(path: str | Path, *, words_per_second: float | None = None,
                       run: str | None = None) -> Timeline:
    """Read a word timeline from a TextGrid, a TSV/CSV word table or a plain-text story.

    Parameters
    ----------
    path : str or Path
        ``.TextGrid``: the word tier (see :func:`brainalign.stimuli.read_textgrid`).
        ``.tsv`` / ``.csv``: see :func:`brainalign.stimuli.read_word_table`.
        ``.txt``: running text without timing; words get a natural reading
        pace (:func:`brainalign.stimuli.synthetic_speech_timeline`), or evenly
        spaced placeholder onsets when ``words_per_second`` is given.
    words_per_second : float, optional
        Placeholder presentation rate for ``.txt`` stories.
    run : str, optional
        Run label for a ``.txt`` story or TextGrid (default: the file name without suffix).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "story.txt"
    >>> _ = p.write_text("Once upon a time")
    >>> read_stimulus_file(p, words_per_second=2.0).onsets.tolist()
    [0.0, 0.5, 1.0, 1.5]
    """
    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"Stimulus file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        return read_word_table(path)
    if suffix == ".textgrid":
        return read_textgrid(path, run=run or path.stem)
    if suffix == ".txt":
        text = path.read_text(encoding="utf-8")
        if not text.split():
            raise BrainalignInputError(f"Story {path} contains no words.")
        if words_per_second is None:
            return synthetic_speech_timeline(text, run=run or path.stem, start=0.0)
        if words_per_second <= 0:
            raise BrainalignInputError(f"words_per_second must be > 0, got {words_per_second}.")
        words = text.split()
        onsets = np.arange(len(words)) / float(words_per_second)
        return Timeline(words, onsets, onsets + 1.0 / words_per_second, run or path.stem)
    raise BrainalignInputError(
        f"Unsupported stimulus file {path.name!r}: expected a .TextGrid, a .tsv/.csv word table "
        "(token, onset[, offset][, run]) or a .txt story."
    )
