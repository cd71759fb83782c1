"""Your own BIDS iEEG dataset (sEEG / ECoG) in studies: ``[dataset] name = "bids_ieeg"``.

Like ``files``, your own data rather than a carded dataset of
:mod:`brainalign.datasets` (nothing to fetch): ``path`` is the BIDS root.  Each subject's run is
read with :func:`brainalign.recordings.load_bids_ieeg` (channel types from
``channels.tsv``, positions from ``electrodes.tsv``), re-referenced, notched
and, by default, turned into the high-gamma envelope; the timeline is the
run's ``events.tsv`` (``trial_type`` as the token) or a word table you give::

    [dataset]
    name = "bids_ieeg"
    path = "/data/my_bids"
    [dataset.options]
    task = "listen"
    reference = "bipolar"
    high_gamma = true
    sfreq = 50.0
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from pydantic import BaseModel, ConfigDict

from ..core import BrainalignInputError
from ..datasets import DatasetAdapter, SubjectData
from ..recordings import events_timeline, load_bids_ieeg


class BidsIeegOptions(BaseModel):
    """``[dataset.options]`` of ``bids_ieeg`` (unknown keys are errors naming the valid ones)."""

    model_config = ConfigDict(extra="forbid")

    task: str
    run: Optional[str] = None
    session: Optional[str] = None
    # TOML has no null: "none" keeps the recorded reference
    reference: Literal["bipolar", "average", "laplacian", "none"] = "bipolar"
    line_freq: Optional[float] = None  # default: the sidecar's PowerLineFrequency
    high_gamma: bool = True
    sfreq: Optional[float] = None
    l_freq: Optional[float] = None
    h_freq: Optional[float] = None
    events: Optional[str] = None  # regular expression on events.tsv trial_type
    words: Optional[str] = None  # a word table (token, onset[, offset]) instead of events.tsv


class BidsIeegAdapter(DatasetAdapter):
    """A BIDS iEEG folder: subjects are its ``sub-*`` folders, the timeline its ``events.tsv`` (or ``words``)."""

    name = "bids_ieeg"
    Options = BidsIeegOptions
    default_alignment = "lagged"

    def _root(self, root) -> Path:
        if root is None or not Path(root).is_dir():
            raise BrainalignInputError(f"[dataset] path: the BIDS root {root!r} is not a folder; set path = "
                                       "\"/data/my_bids\" for name = \"bids_ieeg\".")
        return Path(root)

    def list_subjects(self, root, options):
        root = self._root(root)
        return sorted(p.name for p in root.glob("sub-*") if p.is_dir() and (
            any(p.glob("ieeg")) or any(p.glob("ses-*/ieeg"))))

    def canonical_subject(self, subject):
        subject = str(subject)
        return subject if subject.startswith("sub-") else f"sub-{subject}"

    def stimulus_id(self, subject, options):
        # a shared word table means one stimulus; events.tsv may differ per subject
        return "words" if options.words else f"task-{options.task}:{self.canonical_subject(subject)}"

    def load(self, subject, root, options):
        root = self._root(root)
        label = self.canonical_subject(subject)[len("sub-"):]
        kwargs = {k: getattr(options, k) for k in ("line_freq", "sfreq", "l_freq", "h_freq")
                  if getattr(options, k) is not None}
        recording, raw = load_bids_ieeg(root, label, options.task, run=options.run, session=options.session,
                                        reference=None if options.reference == "none" else options.reference,
                                        high_gamma=options.high_gamma, **kwargs)
        run = recording.run_ids[0]
        if options.words:
            from ..stimuli import read_word_table

            words = Path(options.words)
            words = words if words.is_absolute() else root / words
            if not words.is_file():
                raise BrainalignInputError(f"config [dataset.options] words: no file {words}.")
            timeline = read_word_table(words, run=run)
        else:
            timeline = events_timeline(raw, run=run)
            if options.events:
                keep = np.array([bool(re.fullmatch(options.events, t)) for t in timeline.tokens])
                if not keep.any():
                    raise BrainalignInputError(
                        f"config [dataset.options] events={options.events!r} matches none of the trial types "
                        f"{sorted(set(timeline.tokens))[:10]} of {label}.")
                timeline = timeline.select(keep)
        return SubjectData(timeline, recording, subject=recording.subject,
                           metadata={"dataset": self.name, "ieeg": recording.metadata.get("ieeg")},
                           extra={"raw": raw})

