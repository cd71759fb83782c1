"""The EEGLAB tutorial recording (32-channel EEG, 128 Hz), as redistributed in mne-testing-data.

Card facts (:data:`INFO`), loader (:func:`load_eeglab_tutorial`) and study
adapter; the long description is ``datasets/eeglab_tutorial.md``.
"""

from __future__ import annotations

import os
import re
from typing import Optional

import numpy as np

from ..recordings import events_timeline, load_meg_eeg
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset
from ._fetch import find_dataset_dir
from ._registry import DatasetInfo, RemoteFile, register_info

INFO = register_info(
    DatasetInfo(
        name="eeglab_tutorial",
        title="EEGLAB tutorial recording, 32-channel EEG at 128 Hz (Makeig et al. 1999), MNE testing copy",
        landing_url="https://github.com/mne-tools/mne-testing-data",
        licence="EEGLAB sample data as redistributed in mne-testing-data (see those projects for terms)",
        citation=(
            "Makeig, S., Westerfield, M., Jung, T.-P., et al. (1999). Functionally independent components of "
            "the late positive event-related potential during visual spatial attention. J Neurosci, 19, 2665-2680."
        ),
        modality="eeg",
        folder="eeglab_tutorial",
        sfreq=128.0,
        files=(
            RemoteFile("test_raw.set", None, "95593d49974d3ce8b0bd37e086536b9cedcf0abf38f2453092fd88de0bbde18e"),
            RemoteFile("test_raw.fdt", None, "3ec388b9a080c723c00cd380403d64cc754929d828375bbd53bd83b468136759"),
        ),
        shared_folder="eeglab_tutorial",
    )
)

EEGLAB_SUBJECT = "eeglab"


def load_eeglab_tutorial(path: str | os.PathLike | None = None, **kwargs) -> SubjectData:
    """The EEGLAB tutorial EEG (32 channels, 128 Hz) through MNE, with its annotations as the timeline.

    Keyword arguments go to :func:`brainalign.recordings.load_meg_eeg`
    (``l_freq``, ``h_freq``, ``sfreq``, ``picks``).

    Returns
    -------
    SubjectData
        ``timeline``: all annotations (``square`` targets and ``rt`` button
        presses); ``recording``; ``extra["raw"]``: the processed mne Raw.

    Examples
    --------
    >>> data = load_eeglab_tutorial(l_freq=1.0, h_freq=20.0)  # doctest: +SKIP
    >>> data.recording.kind, sorted(set(data.timeline.tokens))  # doctest: +SKIP
    ('eeg', ['rt', 'square'])
    """
    root = find_dataset_dir(INFO.name, path)
    recording, raw = load_meg_eeg(root / "test_raw.set", **kwargs)
    return SubjectData(events_timeline(raw), recording, subject=EEGLAB_SUBJECT, metadata={"dataset": INFO.name},
                       extra={"raw": raw})


class _EEGLABOptions(_Options):
    l_freq: Optional[float] = None
    h_freq: Optional[float] = None
    sfreq: Optional[float] = None
    events: Optional[str] = None


class EEGLABAdapter(DatasetAdapter):
    """The EEGLAB tutorial recording: events are its annotations (``square`` targets, ``rt`` presses)."""

    name = INFO.name
    info = INFO
    Options = _EEGLABOptions
    default_alignment = "lagged"

    def list_subjects(self, root, options):
        return [EEGLAB_SUBJECT]

    def load(self, subject, root, options):
        opts = {k: v for k, v in options.model_dump().items() if v is not None and k != "events"}
        data = load_eeglab_tutorial(root, **opts)
        if options.events:
            keep = np.array([bool(re.fullmatch(options.events, t)) for t in data.timeline.tokens])
            data.timeline = data.timeline.select(keep)
        return data


register_dataset(EEGLABAdapter())
