"""Broderick et al. (2018): 128-channel natural-speech EEG, *The Old Man and the Sea*.

Card facts (:data:`INFO`), fetcher, loader (:func:`load_broderick2018`) and
study adapter; the long description is ``datasets/broderick2018.md``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ..core import BrainalignInputError, Recording
from ..recordings import check_timeline_fits, load_meg_eeg
from ..stimuli import concatenate
from ..stimuli import build_timeline
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset, subject_dirs
from ._common import mat_strings, require_file
from ._fetch import find_dataset_dir, make_fetcher
from ._registry import DatasetInfo, register_info

INFO = register_info(
    DatasetInfo(
        name="broderick2018",
        title="Natural-speech EEG, 128 channels, 'The Old Man and the Sea' (Broderick et al. 2018)",
        landing_url="https://doi.org/10.5061/dryad.070jc",
        licence="CC0 1.0 (Dryad)",
        citation=(
            "Broderick, M. P., Anderson, A. J., Di Liberto, G. M., Crosse, M. J., & Lalor, E. C. (2018). "
            "Electrophysiological correlates of semantic dissimilarity reflect the comprehension of natural, "
            "narrative speech. Current Biology, 28(5), 803-809."
        ),
        modality="eeg",
        folder="broderick2018",
        sfreq=128.0,
        notes="MATLAB files per subject and run (20 runs of ~180 s); word onsets in Stimuli/Text/*.mat.",
    )
)


#: Sampling rate of the released files (used when a file lacks ``fs``).
BRODERICK_SFREQ: float = INFO.sfreq
fetch_broderick2018 = make_fetcher(INFO.name)


def broderick_subject(subject) -> str:
    """Canonical Broderick subject name: ``1`` -> ``"Subject1"``."""
    m = re.fullmatch(r"(?:Subject)?0*(\d+)", str(subject).strip(), flags=re.IGNORECASE)
    if not m:
        raise BrainalignInputError(f"Broderick subject must look like 'Subject1' or 1, got {subject!r}.")
    return f"Subject{int(m.group(1))}"


_BRODERICK_HOW = (
    "download the 'Natural Speech' set from Dryad (https://doi.org/10.5061/dryad.070jc) and unzip it "
    "into the dataset folder"
)


def broderick_root(root: Path) -> Path:
    """The folder holding ``EEG/`` and ``Stimuli/``: ``root`` or its ``Natural Speech/`` sub-folder."""
    nested = root / "Natural Speech"
    return nested if nested.is_dir() else root


def load_broderick2018(
    subject: str | int,
    runs: int | Sequence[int] = (1,),
    path: str | os.PathLike | None = None,
    *,
    reference: str | None = "mastoids",
    l_freq: float | None = None,
    h_freq: float | None = None,
    sfreq: float | None = None,
    unit_scale: float = 1e-6,
    on_bad_targets: str = "raise",
) -> SubjectData:
    """Broderick et al. (2018) natural-speech EEG: 128-channel runs of *The Old Man and the Sea* with word onsets.

    Files read (relative to the dataset folder, or to its ``Natural Speech/``
    sub-folder): ``EEG/Subject<N>/Subject<N>_Run<M>.mat`` (``eegData``
    time x 128, ``mastoids`` time x 2, ``fs`` = 128) and
    ``Stimuli/Text/Run<M>.mat`` (``wordVec`` cell of words, ``onset_time``
    and ``offset_time`` in seconds).

    Assumptions (not stated in the files): EEG sample 0 is the audio onset
    of the run, so word times are already on the recording's clock; the
    128 channels are BioSemi ``A1``..``D32`` in order (named so, with the
    ``biosemi128`` montage, for topographies); values are microvolts
    (``unit_scale=1e-6`` converts them to volts for MNE).

    Parameters
    ----------
    subject : str or int
        ``"Subject1"`` or ``1`` (19 participants).
    runs : int or sequence of int
        Runs 1..20; labels ``run-01`` ...
    reference : {"mastoids", "average", None}
        Re-reference to the mean of the two mastoids, to the average, or keep.
    l_freq, h_freq, sfreq
        Filtering and resampling by :func:`~brainalign.recordings.load_meg_eeg`.

    Returns
    -------
    SubjectData
        ``timeline`` (words of all runs) and ``recording`` (``kind="eeg"``,
        ``space`` an ``mne.Info`` with the montage).

    Examples
    --------
    >>> data = load_broderick2018(1, runs=[1, 2], l_freq=1.0, h_freq=8.0)  # doctest: +SKIP
    """
    import mne
    from scipy.io import loadmat

    if reference not in ("mastoids", "average", None):
        raise BrainalignInputError(f"reference must be 'mastoids', 'average' or None, got {reference!r}.")
    name = broderick_subject(subject)
    run_list = [int(runs)] if np.ndim(runs) == 0 else [int(r) for r in runs]
    if not run_list or any(not 1 <= r <= 20 for r in run_list) or len(set(run_list)) != len(run_list):
        raise BrainalignInputError(f"runs must be distinct numbers in 1..20, got {runs!r}.")
    root = broderick_root(find_dataset_dir(INFO.name, path))
    montage = mne.channels.make_standard_montage("biosemi128")
    recordings, timelines = [], []
    for r in run_list:
        label = f"run-{r:02d}"
        eeg_file = require_file(INFO.name, root / "EEG" / name / f"{name}_Run{r}.mat",
                            f"EEG of {name} run {r}", _BRODERICK_HOW)
        text_file = require_file(INFO.name, root / "Stimuli" / "Text" / f"Run{r}.mat",
                             f"Word onsets of run {r}", _BRODERICK_HOW)
        eeg = loadmat(eeg_file)
        if "eegData" not in eeg:
            raise BrainalignInputError(f"{eeg_file} has no 'eegData' variable.")
        data = np.asarray(eeg["eegData"], dtype=float)
        fs = float(np.asarray(eeg.get("fs", BRODERICK_SFREQ)).ravel()[0])
        if data.ndim != 2 or data.shape[1] != len(montage.ch_names):
            raise BrainalignInputError(
                f"{eeg_file}: eegData has shape {data.shape}; expected (time, {len(montage.ch_names)})."
            )
        if reference == "mastoids":
            if "mastoids" not in eeg:
                raise BrainalignInputError(f"{eeg_file} has no 'mastoids'; pass reference='average' or None.")
            data = data - np.asarray(eeg["mastoids"], dtype=float).mean(axis=1, keepdims=True)
        info = mne.create_info(montage.ch_names, fs, "eeg")
        raw = mne.io.RawArray(data.T * unit_scale, info, verbose="error")
        raw.set_montage(montage, verbose="error")
        if reference == "average":
            raw.set_eeg_reference("average", projection=False, verbose="error")
        rec, _ = load_meg_eeg(raw, l_freq=l_freq, h_freq=h_freq, sfreq=sfreq, run=label, subject=name,
                              on_bad_targets=on_bad_targets)
        text = loadmat(text_file)
        missing = [k for k in ("wordVec", "onset_time", "offset_time") if k not in text]
        if missing:
            raise BrainalignInputError(f"{text_file} lacks {missing}.")
        timeline = build_timeline(mat_strings(text["wordVec"]), np.ravel(text["onset_time"]),
                                  np.ravel(text["offset_time"]), label, source=str(text_file))
        recordings.append(rec)
        timelines.append(timeline)
    first = recordings[0]
    recording = Recording(
        np.vstack([rec.data for rec in recordings]), first.sampling_period,
        runs=np.concatenate([rec.runs for rec in recordings]), target_names=first.target_names, kind="eeg",
        space=first.space, subject=name, on_bad_targets=on_bad_targets,
        metadata={"dataset": "broderick2018", "runs": run_list, "reference": reference, "unit_scale": unit_scale,
                  "original_sfreq": first.metadata.get("original_sfreq"), "l_freq": l_freq, "h_freq": h_freq},
    ) if len(recordings) > 1 else first
    if len(recordings) == 1:
        recording.metadata.update(dataset="broderick2018", reference=reference, unit_scale=unit_scale)
    timeline = concatenate(timelines)
    check_timeline_fits(timeline, recording)
    return SubjectData(timeline, recording, subject=name,
                       metadata={"dataset": INFO.name, "runs": run_list, "reference": reference})


class _BroderickOptions(_Options):
    runs: Union[int, list[int]] = [1]
    reference: Optional[str] = "mastoids"
    l_freq: Optional[float] = None
    h_freq: Optional[float] = None
    sfreq: Optional[float] = None


class BroderickAdapter(DatasetAdapter):
    name = INFO.name
    info = INFO
    Options = _BroderickOptions
    default_alignment = "lagged"

    def list_subjects(self, root, options):
        return subject_dirs(broderick_root(find_dataset_dir(INFO.name, root)) / "EEG", "Subject*", r"Subject\d+")

    def canonical_subject(self, subject):
        try:
            return broderick_subject(subject)
        except BrainalignInputError:
            return str(subject)  # reported as "not found" with the subjects that exist

    def stimulus_id(self, subject, options):
        runs = [options.runs] if isinstance(options.runs, int) else options.runs
        return "runs-" + "+".join(map(str, runs))

    def load(self, subject, root, options):
        return load_broderick2018(subject, path=root, **options.model_dump())


register_dataset(BroderickAdapter())
