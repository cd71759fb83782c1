"""Narratives (Nastase et al. 2021, OpenNeuro ds002345): fMRI of people listening to spoken stories.

Card facts (:data:`INFO`), fetcher, loader (:func:`load_narratives`) and
study adapter; the long description is ``datasets/narratives.md``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from ..core import BrainalignInputError, Timeline, load_json
from ..recordings import check_timeline_fits, load_fmri, load_surface
from ..stimuli import read_events_tsv
from ..stimuli import build_timeline
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset, subject_dirs
from ._common import missing_file, require_file
from ._fetch import find_dataset_dir, make_fetcher
from ._registry import DatasetInfo, openneuro_files, register_info

logger = logging.getLogger("brainalign.datasets")

INFO = register_info(
    DatasetInfo(
        name="narratives",
        title="Narratives: fMRI of 345 people listening to 27 spoken stories (Nastase et al. 2021)",
        landing_url="https://openneuro.org/datasets/ds002345",
        licence="CC0 1.0",
        citation=(
            "Nastase, S. A., Liu, Y.-F., Hillman, H., et al. (2021). The 'Narratives' fMRI dataset for "
            "evaluating models of naturalistic language comprehension. Scientific Data, 8, 250."
        ),
        modality="fmri",
        folder="narratives",
        tr=1.5,
        files=openneuro_files(
            "ds002345",
            "participants.tsv",
            "dataset_description.json",
            "code/task_meta.json",
            "stimuli/gentle/pieman/align.csv",
        ),
        notes="BIDS; preprocessed data under derivatives/ (afni-smooth, afni-nosmooth, fmriprep).",
    )
)


#: TR when a scan's BIDS sidecar does not give one.
NARRATIVES_TR: float = INFO.tr
fetch_narratives = make_fetcher(INFO.name)
NARRATIVES_SPACES = ("MNI152NLin2009cAsym", "fsaverage6")
NARRATIVES_PIPELINES = {"afni-nosmooth": "clean", "afni-smooth": "clean", "fmriprep": "preproc"}
_NARRATIVES_HOW = (
    "get it from OpenNeuro ds002345 (e.g. `datalad get <path>` in a clone of "
    "https://github.com/OpenNeuroDatasets/ds002345, or `aws s3 sync --no-sign-request "
    "s3://openneuro.org/ds002345/<folder> <folder>`)"
)


def narratives_subject(subject) -> str:
    """Canonical Narratives subject name: ``1`` -> ``"sub-001"``."""
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
    return NARRATIVES_TR  # the release's TR (card)


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
) -> SubjectData:
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
    SubjectData
        ``timeline`` (words on the scan clock, run label ``task-<task>`` or
        ``task-<task>_run-N``), ``recording`` (TR from the BIDS sidecar's
        ``RepetitionTime``, else 1.5 s; a volume header must agree),
        ``events["trial_type"]`` (the BIDS events), ``metadata["story"]``
        (the Gentle folder name, e.g. ``milkywayoriginal``) and
        ``metadata["n_unaligned"]`` (words Gentle did not align).

    Examples
    --------
    >>> data = load_narratives("sub-001", "pieman")  # doctest: +SKIP
    >>> data.recording.sampling_period, data.metadata["story"]  # doctest: +SKIP
    (1.5, 'pieman')
    """
    if space not in NARRATIVES_SPACES:
        raise BrainalignInputError(f"space must be one of {NARRATIVES_SPACES}, got {space!r}.")
    if pipeline not in NARRATIVES_PIPELINES:
        raise BrainalignInputError(f"pipeline must be one of {sorted(NARRATIVES_PIPELINES)}, got {pipeline!r}.")
    root = find_dataset_dir(INFO.name, path)
    sub = narratives_subject(subject)
    func = root / sub / "func"
    stem = f"{sub}_task-{task}" + ("" if run is None else f"_run-{run}")
    events_file = func / f"{stem}_events.tsv"
    if not events_file.is_file():
        found = sorted(p.name for p in func.glob(f"{sub}_task-{task}_*events.tsv")) if func.is_dir() else []
        if run is None and found:
            raise BrainalignInputError(
                f"Task {task!r} of {sub} was scanned in runs: {found}; pass run= (e.g. run=1)."
            )
        raise missing_file(INFO.name, events_file, f"Events file of {sub} task {task!r}", _NARRATIVES_HOW)
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
    align_file = require_file(INFO.name, root / "stimuli" / "gentle" / story / "align.csv",
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
        hemis = [require_file(INFO.name, deriv / sub / "func" / f"{stem}_space-fsaverage6_hemi-{h}{suffix}.func.gii",
                          f"fsaverage6 hemisphere {h} of {sub} task {task!r}", _NARRATIVES_HOW) for h in "LR"]
        recording = load_surface([tuple(hemis)], tr=tr, hemispheres=["left", "right"], **common)
    else:
        bold = require_file(INFO.name,
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
    return SubjectData(timeline, recording, subject=sub, events={"trial_type": events},
                       metadata={"dataset": INFO.name, "task": task, "story": story, "n_unaligned": n_unaligned})


class _NarrativesOptions(_Options):
    task: str
    run: Optional[Union[int, str]] = None
    space: str = "MNI152NLin2009cAsym"
    pipeline: str = "afni-nosmooth"
    mask_img: Optional[str] = "auto"
    detrend: bool = True
    high_pass: Optional[float] = None
    standardize: Union[str, bool] = "zscore_sample"


class NarrativesAdapter(DatasetAdapter):
    name = INFO.name
    info = INFO
    Options = _NarrativesOptions

    def list_subjects(self, root, options):
        root = find_dataset_dir(INFO.name, root)
        return [s for s in subject_dirs(root, "sub-*", r"sub-\d+")
                if any((root / s / "func").glob(f"{s}_task-{options.task}*_events.tsv"))]

    def canonical_subject(self, subject):
        return narratives_subject(subject)

    def stimulus_id(self, subject, options):
        return f"task-{options.task}"

    def load(self, subject, root, options):
        return load_narratives(subject, path=root, **options.model_dump())


register_dataset(NarrativesAdapter())
