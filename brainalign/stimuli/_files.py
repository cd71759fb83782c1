"""Your own stimulus files for a study's ``[stimulus]`` table (typed: unknown keys are errors)."""

from __future__ import annotations

from typing import Optional, Union

from pydantic import Field, model_validator

from ..core import Options

__all__ = ["StimulusFiles"]


class StimulusFiles(Options):
    """The stimulus of a study on your own files: a word timeline (TextGrid or table) and/or media files."""

    textgrid: Optional[str] = Field(None, description="Praat TextGrid with a word tier")
    words: Optional[str] = Field(None, description="word table (.tsv/.csv: token, onset[, offset][, run])")
    tier: Optional[Union[str, int]] = Field(None, description="TextGrid tier (default: the word tier)")
    run: Optional[str] = Field(None, description="run label of the words (default run-1)")
    shift_s: float = Field(0.0, description=(
        "seconds added to every onset, to put the stimulus on the recording's clock (Alice: -20)"))
    media: Optional[Union[str, dict[str, str]]] = Field(None, description=(
        "movie or sound file (or {run = file}) for video / audio models"))

    @model_validator(mode="after")
    def _something(self):
        if self.textgrid is None and self.words is None and self.media is None:
            raise ValueError("[stimulus] needs 'textgrid' or 'words' (a word table with onsets), "
                             "or 'media' (a movie or sound file)")
        if self.textgrid is not None and self.words is not None:
            raise ValueError("[stimulus] gives both 'textgrid' and 'words'; keep one")
        return self
