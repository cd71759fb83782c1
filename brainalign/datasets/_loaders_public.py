"""Loaders for the local layout of the public naturalistic-language datasets.

Narratives (OpenNeuro ds002345), LeBel et al. 2023 (ds003020), Pereira et al.
2018, MEG-MASC and Broderick et al. 2018.  Each loader finds the dataset
folder with :func:`~brainalign.datasets.find_dataset_dir`, reads the files of
one participant with the readers of :mod:`brainalign.recordings` and
:mod:`brainalign.stimuli`, and returns the words as a
:class:`~brainalign.Timeline` on the clock of the matching
:class:`~brainalign.Recording` run.  Missing files raise a
:class:`~brainalign.datasets.DataUnavailableError` that names the expected path
and how to get the file.
"""

from __future__ import annotations

import ast
import logging
import os
import re
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, Recording, Timeline, load_json
from ..recordings import check_timeline_fits, events_timeline, load_bids_meg_eeg, load_fmri, load_meg_eeg
from ..recordings import load_roi_timecourses, load_surface
from ..stimuli import concatenate, read_events_tsv, read_textgrid
from ..stimuli._common import build_timeline
from ._fetch import DataUnavailableError, find_dataset_dir
from ._registry import get_dataset_info

logger = logging.getLogger("brainalign.datasets")


def _missing(name: str, path: Path, what: str, how: str | None = None) -> DataUnavailableError:
    info = get_dataset_info(name)
    how = how or f"download it from {info.landing_url} keeping the release's layout"
    return DataUnavailableError(
        f"{what} not found: expected {path}. To get it, {how}. See {info.card}."
    )


def _require(name: str, path: Path, what: str, how: str | None = None) -> Path:
    if not path.is_file():
        raise _missing(name, path, what, how)
    return path


# --------------------------------------------------------------------------- Narratives
NARRATIVES_TR = 1.5
NARRATIVES_SPACES = ("MNI152NLin2009cAsym", "fsaverage6")
NARRATIVES_PIPELINES = {"afni-nosmooth": "clean", "afni-smooth": "clean", "fmriprep": "preproc"}
_NARRATIVES_HOW = (
    "get it from OpenNeuro ds002345 (e.g. `datalad get <path>` in a clone of "
    "https://github.com/OpenNeuroDatasets/ds002345, or `aws s3 sync --no-sign-request "
    "s3://openneuro.org/ds002345/<folder> <folder>`)"
)


class NarrativesData(NamedTuple):
    """What :func:`load_narratives` returns (unpacks like a tuple)."""

    timeline: Timeline
    recording: Recording
    events: Timeline
    story: str
    n_unaligned: int


def _narratives_subject(subject) -> str:
    m = re.fullmatch(r"(?:sub-)?0*(\d+)", str(subject).strip())
    if not m:
        raise BrainalignInputError(f"Narratives subject must look like 'sub-001' or 1, got {subject!r}.")
    return f"sub-{int(m.group(1)):03d}"


def _read_gentle_alignment(path: Path, run: str) -> tuple[Timeline, int]:
    """Words of a Gentle ``align.csv`` (no header: word, aligned word, onset, offset), unaligned ones left out.

    ``read_word_table`` needs a header and rejects rows without an onset;
    Gentle leaves onset and offset empty for words it could not find in the
    audio, so those rows are counted and dropped here.
    """
    try:
        frame = pd.read_csv(path, header=None, names=["word", "aligned", "onset", "offset"],
                            keep_default_na=False, na_values=[""], dtype={"word": str, "aligned": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BrainalignInputError(f"Cannot read Gentle alignment {path}: {exc}") from None
    onsets = pd.to_numeric(frame["onset"], errors="coerce")
    offsets = pd.to_numeric(frame["offset"], errors="coerce")
    aligned = onsets.notna() & offsets.notna()
    n_unaligned = int((~aligned).sum())
    if not aligned.any():
        raise BrainalignInputError(f"{path}: no word has an onset (is this a Gentle align.csv?).")
    if n_unaligned:
        logger.info("%s: %d of %d word(s) not aligned by Gentle, left out.", path, n_unaligned, len(frame))
    words = frame.loc[aligned, "word"].astype(str).tolist()
    timeline = build_timeline(words, onsets[aligned].to_numpy(float), offsets[aligned].to_numpy(float), run,
                              source=f"Gentle alignment {path}")
    return timeline, n_unaligned


def _narratives_tr(root: Path, sub: str, stem: str, task: str) -> float:
    """RepetitionTime from the BIDS sidecar (subject-level, else top-level), else 1.5 s."""
    for sidecar in (root / sub / "func" / f"{stem}_bold.json", root / f"task-{task}_bold.json"):
        if sidecar.is_file():
            tr = load_json(sidecar).get("RepetitionTime")
            if tr is not None:
                return float(tr)
    return NARRATIVES_TR


def load_narratives(
    subject: str | int,
    task: str,
    path: str | os.PathLike | None = None,
    *,
    run: int | str | None = None,
    space: str = "MNI152NLin2009cAsym",
    pipeline: str = "afni-nosmooth",
    mask_img="auto",
    detrend: bool = True,
    high_pass: float | None = None,
    standardize: str | bool = "zscore_sample",
    on_bad_targets: str = "raise",
) -> NarrativesData:
    """Narratives (Nastase et al. 2021, OpenNeuro ds002345): one scan with its story's aligned words.

    Files read (paths relative to the dataset folder; ``<stem>`` is
    ``sub-NNN_task-<task>`` plus ``_run-N`` for tasks scanned in runs):

    - ``sub-NNN/func/<stem>_events.tsv``: BIDS events (``onset``,
      ``duration``, ``trial_type`` = ``music`` / ``story``, ``stim_file`` =
      ``<story>_audio.wav``).  The story's audio file starts at the onset of
      the first event that plays it (the music that opens some stories is
      part of the same file), so word times from the alignment are shifted
      by that onset onto the scan clock.
    - ``stimuli/gentle/<story>/align.csv``: the Gentle forced alignment, no
      header: word, aligned word, onset, offset (s, audio clock).  Words
      Gentle could not align (empty onset) are left out and counted.
    - volumes (``space="MNI152NLin2009cAsym"``):
      ``derivatives/<pipeline>/sub-NNN/func/<stem>_space-MNI152NLin2009cAsym_res-native_desc-<desc>_bold.nii.gz``
      (``desc`` = ``clean`` for the AFNI pipelines, ``preproc`` for fMRIPrep);
      surfaces (``space="fsaverage6"``):
      ``<stem>_space-fsaverage6_hemi-{L,R}[_desc-clean].func.gii``.

    Parameters
    ----------
    subject : str or int
        ``"sub-001"``, ``"001"`` or ``1``.
    task : str
        The BIDS task (story), e.g. ``"pieman"``, ``"lucy"``, ``"milkyway"``.
    path : path or None
        The dataset folder (BIDS root); default ``$BRAINALIGN_DATA/narratives``.
    run : int, str or None
        The BIDS run, for tasks scanned in several runs (an error lists them).
    space : {"MNI152NLin2009cAsym", "fsaverage6"}
        Volumes through a NiftiMasker, or both fsaverage6 hemispheres (left
        then right) through :func:`~brainalign.recordings.load_surface`.
    pipeline : {"afni-nosmooth", "afni-smooth", "fmriprep"}
        Which derivatives folder.  The AFNI ones are already confound-cleaned.
    mask_img : "auto", path, image or None
        Volumes only.  ``"auto"`` uses the release's task brain mask
        ``derivatives/<pipeline>/tpl-MNI152NLin2009cAsym/tpl-MNI152NLin2009cAsym_res-<task>_desc-brain_mask.nii.gz``
        when present, else lets nilearn compute one.
    detrend, high_pass, standardize, on_bad_targets
        As in :func:`~brainalign.recordings.load_fmri`.  Surfaces hold a
        constant medial wall: pass ``on_bad_targets="drop"`` for them.

    Returns
    -------
    NarrativesData
        ``timeline`` (words on the scan clock, run label ``task-<task>`` or
        ``task-<task>_run-N``), ``recording`` (TR from the BIDS sidecar's
        ``RepetitionTime``, else 1.5 s; a volume header must agree),
        ``events`` (the ``trial_type`` events), ``story`` (the Gentle folder
        name, e.g. ``milkywayoriginal``), ``n_unaligned``.

    Examples
    --------
    >>> data = load_narratives("sub-001", "pieman")  # doctest: +SKIP
    >>> data.recording.sampling_period, data.timeline.run_ids  # doctest: +SKIP
    (1.5, ['task-pieman'])
    """
    if space not in NARRATIVES_SPACES:
        raise BrainalignInputError(f"space must be one of {NARRATIVES_SPACES}, got {space!r}.")
    if pipeline not in NARRATIVES_PIPELINES:
        raise BrainalignInputError(f"pipeline must be one of {sorted(NARRATIVES_PIPELINES)}, got {pipeline!r}.")
    root = find_dataset_dir("narratives", path)
    sub = _narratives_subject(subject)
    func = root / sub / "func"
    stem = f"{sub}_task-{task}" + ("" if run is None else f"_run-{run}")
    events_file = func / f"{stem}_events.tsv"
    if not events_file.is_file():
        found = sorted(p.name for p in func.glob(f"{sub}_task-{task}_*events.tsv")) if func.is_dir() else []
        if run is None and found:
            raise BrainalignInputError(
                f"Task {task!r} of {sub} was scanned in runs: {found}; pass run= (e.g. run=1)."
            )
        raise _missing("narratives", events_file, f"Events file of {sub} task {task!r}", _NARRATIVES_HOW)
    label = f"task-{task}" + ("" if run is None else f"_run-{run}")
    events = read_events_tsv(events_file, token_col="trial_type", run=label)
    stim = read_events_tsv(events_file, token_col="stim_file", run=label)
    audio = [(s, o) for s, o in zip(stim.tokens, stim.onsets) if s.endswith("_audio.wav")]
    if not audio:
        raise BrainalignInputError(
            f"{events_file}: no event plays a '<story>_audio.wav' stim_file (got {sorted(set(stim.tokens))})."
        )
    stories = sorted({s for s, _ in audio})
    if len(stories) > 1:
        raise BrainalignInputError(
            f"{events_file} plays several stories {stories}; this loader handles one story per scan."
        )
    story = stories[0][: -len("_audio.wav")]
    audio_onset = float(audio[0][1])
    align_file = _require("narratives", root / "stimuli" / "gentle" / story / "align.csv",
                          f"Gentle alignment of story {story!r}", _NARRATIVES_HOW)
    words, n_unaligned = _read_gentle_alignment(align_file, label)
    timeline = words.shift(audio_onset)

    tr = _narratives_tr(root, sub, stem, task)
    deriv = root / "derivatives" / pipeline
    desc = NARRATIVES_PIPELINES[pipeline]
    common = dict(detrend=detrend, high_pass=high_pass, standardize=standardize, subject=sub,
                  on_bad_targets=on_bad_targets, runs=[label])
    if space == "fsaverage6":
        suffix = "" if pipeline == "fmriprep" else f"_desc-{desc}"
        hemis = [_require("narratives", deriv / sub / "func" / f"{stem}_space-fsaverage6_hemi-{h}{suffix}.func.gii",
                          f"fsaverage6 hemisphere {h} of {sub} task {task!r}", _NARRATIVES_HOW) for h in "LR"]
        recording = load_surface([tuple(hemis)], tr=tr, hemispheres=["left", "right"], **common)
    else:
        bold = _require("narratives",
                        deriv / sub / "func" / f"{stem}_space-MNI152NLin2009cAsym_res-native_desc-{desc}_bold.nii.gz",
                        f"Preprocessed BOLD of {sub} task {task!r}", _NARRATIVES_HOW)
        if isinstance(mask_img, str) and mask_img == "auto":
            default_mask = (deriv / "tpl-MNI152NLin2009cAsym"
                            / f"tpl-MNI152NLin2009cAsym_res-{task}_desc-brain_mask.nii.gz")
            mask_img = default_mask if default_mask.is_file() else None
        recording = load_fmri(bold, mask_img=mask_img, tr=tr, **common)
    recording.metadata.update(dataset="narratives", task=task, story=story, pipeline=pipeline, space=space,
                              audio_onset=audio_onset, n_unaligned_words=n_unaligned)
    check_timeline_fits(timeline, recording)
    return NarrativesData(timeline, recording, events, story, n_unaligned)


# --------------------------------------------------------------------------- LeBel et al. 2023
LEBEL_TR = 2.0045
#: Word-tier labels that are not words in the LeBel TextGrids (noises, breaths, markers).
LEBEL_SKIP_LABELS = (
    "sp", "sil", "", "<sil>", "sentence_start", "sentence_end", "{br}", "{lg}", "{ls}", "{ns}", "{sp}",
    "{cg}", "{ig}", "{sl}",
)
_LEBEL_HOW = (
    "get it from OpenNeuro ds003020 (`datalad get derivative/preprocessed_data/<UTS0N>` and "
    "`datalad get derivative/TextGrids` in a clone of https://github.com/OpenNeuroDatasets/ds003020); "
    "`brainalign datasets fetch lebel2023` fetches the metadata and one TextGrid"
)


class LeBelData(NamedTuple):
    """What :func:`load_lebel2023` returns."""

    timeline: Timeline
    recording: Recording
    n_dropped_words: dict


def _lebel_subject(subject) -> str:
    m = re.fullmatch(r"(?:sub-)?(?:UTS)?0*(\d+)", str(subject).strip(), flags=re.IGNORECASE)
    if not m:
        raise BrainalignInputError(f"LeBel subject must look like 'UTS01' or 1, got {subject!r}.")
    return f"UTS{int(m.group(1)):02d}"


def _read_hf5(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as fh:
        keys = list(fh.keys())
        key = "data" if "data" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise BrainalignInputError(f"{path} holds datasets {keys}; expected one called 'data'.")
        data = np.asarray(fh[key][...], dtype=np.float32)
    if data.ndim != 2:
        raise BrainalignInputError(f"{path}: responses must be (TRs, voxels), got shape {data.shape}.")
    return data


def load_lebel2023(
    subject: str | int,
    stories: str | Sequence[str],
    path: str | os.PathLike | None = None,
    *,
    tr: float = LEBEL_TR,
    sound_start: float = 10.0,
    trim_start: int = 10,
    trim_end: int = 5,
    detrend: bool = False,
    standardize: str | bool = False,
    on_bad_targets: str = "raise",
) -> LeBelData:
    """LeBel et al. (2023, OpenNeuro ds003020): preprocessed responses and TextGrid words, one run per story.

    Files read (relative to the dataset folder):
    ``derivative/preprocessed_data/<UTS0N>/<story>.hf5`` (HDF5 dataset
    ``data``, TRs x cortical voxels) and ``derivative/TextGrids/<story>.TextGrid``
    (the ``word`` tier; pauses, ``sentence_start``/``sentence_end`` and
    ``{BR}``-style noise labels are skipped).  ``derivative/respdict.json``
    (TRs per story) is used, when present, only to check the trimming.

    **Clock.** The authors' code (``load_simulated_trfiles`` /
    ``[5 + trim : -trim]``) places the sound onset ``sound_start`` = 10 s
    after the first volume and drops ``trim_start`` = 10 volumes at the start
    and ``trim_end`` = 5 at the end of each story.  So row 0 of the ``.hf5``
    is volume 10, and a TextGrid time ``t`` is at
    ``t + sound_start - trim_start * tr`` (= ``t - 10.045`` s) on the
    recording's clock.  Words of the first seconds therefore have negative
    onsets (kept: they still drive the hemodynamic response; pass
    ``allow_before_start`` where alignment asks), and words whose onset is
    at or after the end of the trimmed run are dropped (counted in
    ``n_dropped_words`` and ``recording.metadata``).

    Parameters
    ----------
    subject : str or int
        ``"UTS01"``, ``"sub-UTS01"`` or ``1``.
    stories : str or list of str
        Story names (file stems), e.g. ``"wheretheressmoke"``.  Run labels
        are the story names.
    tr : float
        Repetition time, 2.0045 s (the authors' code simulates 2.0 s TR
        files; the scanner's TR is 2.0045 s).
    sound_start, trim_start, trim_end
        The clock convention above; change only for differently trimmed data.
    detrend, standardize
        Off by default: the released responses are already detrended and
        z-scored per story.

    Returns
    -------
    LeBelData
        ``timeline``, ``recording`` (``kind="fmri"``, voxels in the order
        of the ``.hf5`` columns, no image space), ``n_dropped_words``.

    Examples
    --------
    >>> data = load_lebel2023("UTS01", ["wheretheressmoke"])  # doctest: +SKIP
    >>> data.recording.sampling_period  # doctest: +SKIP
    2.0045
    """
    stories = [stories] if isinstance(stories, str) else [str(s) for s in stories]
    if not stories:
        raise BrainalignInputError("Give at least one story.")
    if len(set(stories)) != len(stories):
        raise BrainalignInputError(f"Stories repeat: {stories}.")
    root = find_dataset_dir("lebel2023", path)
    uts = _lebel_subject(subject)
    respdict_path = root / "derivative" / "respdict.json"
    respdict = load_json(respdict_path) if respdict_path.is_file() else {}
    arrays, timelines, dropped, shifts = [], [], {}, {}
    shift = float(sound_start) - int(trim_start) * float(tr)
    for story in stories:
        resp_file = _require("lebel2023", root / "derivative" / "preprocessed_data" / uts / f"{story}.hf5",
                             f"Responses of {uts} to story {story!r}", _LEBEL_HOW)
        grid = _require("lebel2023", root / "derivative" / "TextGrids" / f"{story}.TextGrid",
                        f"TextGrid of story {story!r}", _LEBEL_HOW)
        data = _read_hf5(resp_file)
        if story in respdict and int(respdict[story]) - trim_start - trim_end != data.shape[0]:
            logger.warning(
                "%s: %d TRs, but respdict.json says %s before trimming %d + %d; check the clock convention.",
                resp_file, data.shape[0], respdict[story], trim_start, trim_end,
            )
        words = read_textgrid(grid, skip_labels=LEBEL_SKIP_LABELS, run=story).shift(shift)
        late = words.onsets >= data.shape[0] * tr
        dropped[story] = int(late.sum())
        if late.any():
            logger.info("Story %s: %d word(s) after the trimmed run's end left out.", story, int(late.sum()))
            words = words.select(~late)
        arrays.append(data)
        timelines.append(words)
        shifts[story] = shift
    recording = load_roi_timecourses(
        arrays, tr, runs=stories, detrend=detrend, standardize=standardize, subject=uts, kind="fmri",
        on_bad_targets=on_bad_targets,
    )
    recording.metadata.update(dataset="lebel2023", stories=stories, clock_shift=shifts,
                              trim=(int(trim_start), int(trim_end)), n_dropped_words=dropped)
    timeline = concatenate(timelines)
    check_timeline_fits(timeline, recording, allow_before_start=True)
    return LeBelData(timeline, recording, dropped)


# --------------------------------------------------------------------------- Pereira et al. 2018
PEREIRA_EXPERIMENTS = {2: 384, 3: 243}


class PereiraData(NamedTuple):
    """What :func:`load_pereira2018` returns."""

    sentences: list
    timeline: Timeline
    passages: np.ndarray | None
    recording: Recording | None
    voxel_coords: np.ndarray | None


def _mat_strings(cell) -> list[str]:
    """A MATLAB cell array of strings (as scipy.io.loadmat returns it) as a list of str."""
    out = []
    for item in np.asarray(cell, dtype=object).ravel():
        while isinstance(item, np.ndarray) and item.dtype == object and item.size == 1:
            item = item.ravel()[0]
        if isinstance(item, np.ndarray):
            item = "".join(str(x) for x in item.ravel()) if item.dtype.kind in "U" else str(item.ravel()[0])
        out.append(str(item).strip())
    return out


def load_pereira2018(
    subject: str | None = None,
    experiment: int = 2,
    path: str | os.PathLike | None = None,
    *,
    on_bad_targets: str = "raise",
) -> PereiraData:
    """Pereira et al. (2018) sentences, and one participant's per-sentence fMRI betas when asked.

    Two layouts are read:

    - ``stimuli_384sentences.txt`` / ``stimuli_243sentences.txt`` (one
      sentence per line in passage order; the shared test copy has only
      these): ``subject=None`` returns the sentences alone.
    - ``<subject>/data_384sentences.mat`` / ``data_243sentences.mat`` (the
      OSF release, one folder per participant, e.g. ``M02``, ``P01``):
      ``examples_passagesentences`` (sentences x voxels, one GLM beta image
      per sentence), ``keySentences`` (the sentences),
      ``labelsPassageForEachSentence`` (passage number of each sentence) and
      ``meta.colToCoord`` (voxel column -> 1-based volume coordinates).

    Parameters
    ----------
    subject : str or None
        Participant folder name; ``None`` reads only the sentence lists.
    experiment : {2, 3}
        Experiment 2 (384 sentences, 96 passages) or 3 (243 sentences, 72 passages).
    path : path or None
        The dataset folder; default ``$BRAINALIGN_DATA/pereira2018``, else the
        shared copy ``pereira2018_sentences``.

    Returns
    -------
    PereiraData
        ``sentences`` (list of str); ``timeline``: one event per sentence on
        a nominal clock (sentence ``i`` from ``i`` to ``i + 0.5`` s, run
        ``experiment-N``), the layout :func:`brainalign.alignment.epoch_design`
        expects for one-row-per-trial data; ``passages`` (1-based passage
        number per sentence, or None); ``recording``: the betas (``kind="fmri"``,
        nominal sampling period 1.0, one row per sentence) or None;
        ``voxel_coords`` (n_voxels x 3, 0-based) or None.

    Examples
    --------
    >>> data = load_pereira2018(experiment=3)  # doctest: +SKIP
    >>> len(data.sentences)  # doctest: +SKIP
    243
    """
    if experiment not in PEREIRA_EXPERIMENTS:
        raise BrainalignInputError(
            f"experiment must be 2 (384 sentences) or 3 (243 sentences), got {experiment!r}; "
            "experiment 1 (180 concepts) has no sentence stimuli."
        )
    n = PEREIRA_EXPERIMENTS[experiment]
    root = find_dataset_dir("pereira2018", path)
    label = f"experiment-{experiment}"
    how = "download it from https://osf.io/crwz7/ into the dataset folder (no direct links)"
    passages = recording = coords = None
    if subject is None:
        text_file = _require("pereira2018", root / f"stimuli_{n}sentences.txt",
                             f"Sentence list of experiment {experiment}", how)
        sentences = [line.strip() for line in text_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(sentences) != n:
            raise BrainalignInputError(f"{text_file} has {len(sentences)} sentences; experiment {experiment} has {n}.")
    else:
        from scipy.io import loadmat

        mat_file = _require("pereira2018", root / str(subject) / f"data_{n}sentences.mat",
                            f"Betas of participant {subject!r} for experiment {experiment}", how)
        contents = loadmat(mat_file)
        missing = [k for k in ("examples_passagesentences", "keySentences") if k not in contents]
        if missing:
            present = sorted(k for k in contents if not k.startswith("__"))
            raise BrainalignInputError(f"{mat_file} lacks {missing}; its variables are {present}.")
        betas = np.asarray(contents["examples_passagesentences"], dtype=np.float32)
        sentences = _mat_strings(contents["keySentences"])
        if betas.shape[0] != n or len(sentences) != n:
            raise BrainalignInputError(
                f"{mat_file}: {betas.shape[0]} beta rows and {len(sentences)} sentences; expected {n} of each."
            )
        if "labelsPassageForEachSentence" in contents:
            passages = np.asarray(contents["labelsPassageForEachSentence"]).ravel().astype(int)
        meta = contents.get("meta")
        if meta is not None and getattr(meta, "dtype", None) is not None and meta.dtype.names \
                and "colToCoord" in meta.dtype.names:
            coords = np.asarray(meta["colToCoord"].ravel()[0], dtype=int) - 1
            if coords.ndim != 2 or coords.shape != (betas.shape[1], 3):
                raise BrainalignInputError(
                    f"{mat_file}: meta.colToCoord has shape {coords.shape}; expected ({betas.shape[1]}, 3)."
                )
        recording = Recording(
            betas, 1.0, runs=[label] * n, kind="fmri", subject=str(subject), on_bad_targets=on_bad_targets,
            metadata={"dataset": "pereira2018", "experiment": experiment, "source": str(mat_file),
                      "layout": "one beta image per sentence (nominal sampling period 1.0)"},
        )
    onsets = np.arange(n, dtype=float)
    timeline = Timeline(sentences, onsets, onsets + 0.5, [label] * n)
    return PereiraData(sentences, timeline, passages, recording, coords)


# --------------------------------------------------------------------------- MEG-MASC
_MEG_MASC_HOW = (
    "download both OSF parts from https://osf.io/ag3kj/ and merge them into one BIDS folder "
    "(the authors call it bids_anonym), keeping the layout"
)


class MEGMASCData(NamedTuple):
    """What :func:`load_meg_masc` returns."""

    timeline: Timeline
    recording: Recording
    raw: object
    phonemes: Timeline | None


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
) -> MEGMASCData:
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
    MEGMASCData
        ``timeline`` (words, seconds from the first sample), ``recording``
        (run label ``ses-S_task-T``), ``raw`` (the processed mne Raw),
        ``phonemes`` (the ``kind == 'phoneme'`` rows, token = ``phoneme``) or None.

    Examples
    --------
    >>> data = load_meg_masc(1, 0, 0, picks="meg", sfreq=100.0)  # doctest: +SKIP
    """
    root = find_dataset_dir("meg_masc", path)
    if (root / "bids_anonym").is_dir() and not list(root.glob("sub-*")):
        root = root / "bids_anonym"
    m = re.fullmatch(r"(?:sub-)?0*(\d+)", str(subject).strip())
    if not m:
        raise BrainalignInputError(f"MEG-MASC subject must look like '01' or 1, got {subject!r}.")
    sub, ses, task = f"{int(m.group(1)):02d}", str(session), str(task)
    meg_dir = root / f"sub-{sub}" / f"ses-{ses}" / "meg"
    if not list(meg_dir.glob(f"sub-{sub}_ses-{ses}_task-{task}_*meg.*")):
        raise _missing("meg_masc", meg_dir / f"sub-{sub}_ses-{ses}_task-{task}_meg.con",
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
    return MEGMASCData(words, recording, raw, phonemes)


# --------------------------------------------------------------------------- Broderick et al. 2018
BRODERICK_SFREQ = 128.0
_BRODERICK_HOW = (
    "download the 'Natural Speech' set from Dryad (https://doi.org/10.5061/dryad.070jc) and unzip it "
    "into the dataset folder"
)


class BroderickData(NamedTuple):
    """What :func:`load_broderick2018` returns."""

    timeline: Timeline
    recording: Recording


def _broderick_root(root: Path) -> Path:
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
) -> BroderickData:
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
    BroderickData
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
    m = re.fullmatch(r"(?:Subject)?0*(\d+)", str(subject).strip(), flags=re.IGNORECASE)
    if not m:
        raise BrainalignInputError(f"Broderick subject must look like 'Subject1' or 1, got {subject!r}.")
    name = f"Subject{int(m.group(1))}"
    run_list = [int(runs)] if np.ndim(runs) == 0 else [int(r) for r in runs]
    if not run_list or any(not 1 <= r <= 20 for r in run_list) or len(set(run_list)) != len(run_list):
        raise BrainalignInputError(f"runs must be distinct numbers in 1..20, got {runs!r}.")
    root = _broderick_root(find_dataset_dir("broderick2018", path))
    montage = mne.channels.make_standard_montage("biosemi128")
    recordings, timelines = [], []
    for r in run_list:
        label = f"run-{r:02d}"
        eeg_file = _require("broderick2018", root / "EEG" / name / f"{name}_Run{r}.mat",
                            f"EEG of {name} run {r}", _BRODERICK_HOW)
        text_file = _require("broderick2018", root / "Stimuli" / "Text" / f"Run{r}.mat",
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
        timeline = build_timeline(_mat_strings(text["wordVec"]), np.ravel(text["onset_time"]),
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
    return BroderickData(timeline, recording)
