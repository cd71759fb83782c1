"""MEG-MASC (Gwilliams et al. 2023): 208-channel MEG of people listening to stories.

Card facts (:data:`INFO`), fetcher, loader (:func:`load_meg_masc`) and study
adapter; the long description is ``datasets/meg_masc.md``.
"""

from __future__ import annotations

import ast
import os
import re
from typing import Optional, Union

import numpy as np

from ..core import BrainalignInputError, Timeline
from ..recordings import check_timeline_fits, events_timeline, load_bids_meg_eeg
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset, subject_dirs
from ._common import missing_file
from ._fetch import find_dataset_dir, make_fetcher
from ._registry import DatasetInfo, register_info

INFO = register_info(
    DatasetInfo(
        name="meg_masc",
        title="MEG-MASC: 27 people listening to 2 h of stories, 208-channel KIT MEG (Gwilliams et al. 2023)",
        landing_url="https://osf.io/ag3kj/",
        licence="CC0 1.0 (as listed by the NEMAR mirror; confirm on OSF)",
        citation=(
            "Gwilliams, L., Flick, G., Marantz, A., Pylkkänen, L., Poeppel, D., & King, J.-R. (2023). "
            "Introducing MEG-MASC a high-quality magneto-encephalography dataset for evaluating natural "
            "speech processing. Scientific Data, 10, 862."
        ),
        modality="meg",
        folder="meg_masc",
        sfreq=1000.0,
        notes="BIDS; word and phoneme onsets in events.tsv; raw KIT .con files, 2 sessions x 4 stories.",
    )
)


fetch_meg_masc = make_fetcher(INFO.name)


def meg_masc_subject(subject) -> str:
    """Canonical MEG-MASC subject name: ``1`` or ``"01"`` -> ``"sub-01"``."""
    m = re.fullmatch(r"(?:sub-)?0*(\d+)", str(subject).strip())
    if not m:
        raise BrainalignInputError(f"MEG-MASC subject must look like '01' or 1, got {subject!r}.")
    return f"sub-{int(m.group(1)):02d}"


_MEG_MASC_HOW = (
    "download both OSF parts from https://osf.io/ag3kj/ and merge them into one BIDS folder "
    "(the authors call it bids_anonym), keeping the layout"
)


def _masc_events(raw, kind: str, key: str, run: str) -> Timeline | None:
    """Events of one ``kind`` from annotations whose descriptions are dict literals."""
    try:
        dicts = events_timeline(raw, regexp=rf"['\"]kind['\"]\s*:\s*['\"]{kind}['\"]", run=run)
    except BrainalignInputError:
        return None
    tokens = []
    for desc in dicts.tokens:
        try:
            info = ast.literal_eval(desc)
        except (ValueError, SyntaxError):
            raise BrainalignInputError(f"MEG-MASC annotation {desc[:80]!r} is not a dict literal.") from None
        if key not in info:
            raise BrainalignInputError(f"MEG-MASC {kind} annotation {desc[:80]!r} has no {key!r} entry.")
        tokens.append(str(info[key]))
    return Timeline(tokens, dicts.onsets, dicts.offsets, dicts.runs)


def load_meg_masc(
    subject: str | int,
    session: str | int,
    task: str | int,
    path: str | os.PathLike | None = None,
    **kwargs,
) -> SubjectData:
    """MEG-MASC (Gwilliams et al. 2023): one story recording (BIDS, via mne-bids) with its word onsets.

    Reads ``sub-NN/ses-S/meg/sub-NN_ses-S_task-T_meg.con`` (KIT, 1000 Hz;
    any format mne-bids reads) with
    :func:`~brainalign.recordings.load_bids_meg_eeg`.  Its ``events.tsv``
    becomes the annotations: each ``trial_type`` is a Python dict literal
    (``{'story': ..., 'kind': 'word' | 'phoneme' | 'sound', 'word': ...,
    'phoneme': ..., ...}``, read safely with :func:`ast.literal_eval`, as the
    authors' ``check_decoding.py`` reads them with ``eval``).  The word
    timeline holds the ``kind == 'word'`` rows, token = the ``word`` entry.

    Parameters
    ----------
    subject : str or int
        ``"01"`` or ``1`` (27 participants).
    session : str or int
        ``0`` or ``1``.
    task : str or int
        Story ``0`` to ``3``.
    path : path or None
        The BIDS root (or a folder holding ``bids_anonym/``); default
        ``$BRAINALIGN_DATA/meg_masc``.
    **kwargs
        Go to :func:`~brainalign.recordings.load_meg_eeg` (``picks``,
        ``l_freq``, ``h_freq``, ``sfreq``): e.g. ``picks="meg", l_freq=0.5,
        h_freq=30.0, sfreq=100.0``.

    Returns
    -------
    SubjectData
        ``timeline`` (words, seconds from the first sample), ``recording``
        (run label ``ses-S_task-T``), ``events["phonemes"]`` (the
        ``kind == 'phoneme'`` rows, token = ``phoneme``; absent when there
        are none) and ``extra["raw"]`` (the processed mne Raw).

    Examples
    --------
    >>> data = load_meg_masc(1, 0, 0, picks="meg", sfreq=100.0)  # doctest: +SKIP
    """
    root = find_dataset_dir(INFO.name, path)
    if (root / "bids_anonym").is_dir() and not list(root.glob("sub-*")):
        root = root / "bids_anonym"
    sub, ses, task = meg_masc_subject(subject).removeprefix("sub-"), str(session), str(task)
    meg_dir = root / f"sub-{sub}" / f"ses-{ses}" / "meg"
    if not list(meg_dir.glob(f"sub-{sub}_ses-{ses}_task-{task}_*meg.*")):
        raise missing_file(INFO.name, meg_dir / f"sub-{sub}_ses-{ses}_task-{task}_meg.con",
                       f"MEG recording of sub-{sub} session {ses} task {task}", _MEG_MASC_HOW)
    if "run" in kwargs:
        raise BrainalignInputError("MEG-MASC has no BIDS runs; the run label is set to 'ses-S_task-T'.")
    recording, raw = load_bids_meg_eeg(root, subject=sub, task=task, session=ses, datatype="meg", **kwargs)
    label = f"ses-{ses}_task-{task}"
    recording.runs = np.full(recording.n_samples, label, dtype=object)
    words = _masc_events(raw, "word", "word", label)
    if words is None:
        raise BrainalignInputError(
            f"No word annotations ('kind': 'word') in sub-{sub} ses-{ses} task-{task}; check its events.tsv."
        )
    phonemes = _masc_events(raw, "phoneme", "phoneme", label)
    recording.metadata.update(dataset="meg_masc", session=ses, task=task)
    check_timeline_fits(words, recording)
    return SubjectData(words, recording, subject=f"sub-{sub}", events={} if phonemes is None else {"phonemes": phonemes},
                       metadata={"dataset": INFO.name, "session": ses, "task": task}, extra={"raw": raw})


class _MegMascOptions(_Options):
    session: Union[int, str] = 0
    task: Union[int, str] = 0
    l_freq: Optional[float] = None
    h_freq: Optional[float] = None
    sfreq: Optional[float] = None


class MegMascAdapter(DatasetAdapter):
    name = INFO.name
    info = INFO
    Options = _MegMascOptions
    default_alignment = "lagged"

    def list_subjects(self, root, options):
        return subject_dirs(find_dataset_dir(INFO.name, root), "sub-*", r"sub-\d+")

    def canonical_subject(self, subject):
        try:
            return meg_masc_subject(subject)
        except BrainalignInputError:
            return str(subject)  # reported as "not found" with the subjects that exist

    def stimulus_id(self, subject, options):
        return f"task-{options.task}"

    def load(self, subject, root, options):
        opts = options.model_dump()
        return load_meg_masc(subject, opts.pop("session"), opts.pop("task"), root,
                             **{k: v for k, v in opts.items() if v is not None})


register_dataset(MegMascAdapter())
