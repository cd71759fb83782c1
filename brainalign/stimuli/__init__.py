"""Stimulus timelines: what was presented and when, read from TextGrids, events files and tables.

Every reader returns a :class:`brainalign.Timeline`.  Times are seconds on
the clock of the recording run the events belong to; move them with
:meth:`brainalign.Timeline.shift` (e.g. silence padding before a story) or
with the ``offsets=`` of :func:`concatenate`.  :func:`synthetic_speech_timeline`
gives any text a natural reading pace, for simulations and demos;
:func:`write_synthetic_movie` writes a short movie file with its transcript.
"""

from ._common import build_timeline
from ._files import StimulusFiles
from ._speech import synthetic_speech_timeline
from ._movie import write_synthetic_movie
from ._isochronous import IsochronousStreams, isochronous_streams, load_isochronous_corpus
from ._lists import audio_stimulus_list, concatenate, image_stimulus_list, with_run
from ._tables import read_events_tsv, read_word_table
from ._textgrid import TextGridTier, list_textgrid_tiers, parse_textgrid, read_textgrid

__all__ = [
    "build_timeline",
    "IsochronousStreams",
    "StimulusFiles",
    "TextGridTier",
    "audio_stimulus_list",
    "concatenate",
    "image_stimulus_list",
    "isochronous_streams",
    "load_isochronous_corpus",
    "list_textgrid_tiers",
    "parse_textgrid",
    "read_events_tsv",
    "read_textgrid",
    "read_word_table",
    "synthetic_speech_timeline",
    "with_run",
    "write_synthetic_movie",
]
