"""LeBel et al. (2023, OpenNeuro ds003020): natural-language fMRI for voxelwise encoding models.

Card facts (:data:`INFO`), fetcher, loader (:func:`load_lebel2023`) and
study adapter; the long description is ``datasets/lebel2023.md``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..core import BrainalignInputError, load_json
from ..recordings import check_timeline_fits, load_roi_timecourses
from ..stimuli import concatenate, read_textgrid
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset, subject_dirs
from ._common import require_file
from ._fetch import find_dataset_dir, make_fetcher
from ._registry import DatasetInfo, openneuro_files, register_info

logger = logging.getLogger("brainalign.datasets")

INFO = register_info(
    DatasetInfo(
        name="lebel2023",
        title="Natural-language fMRI for voxelwise encoding models, 8 people x 27+ stories (LeBel et al. 2023)",
        landing_url="https://openneuro.org/datasets/ds003020",
        licence="CC0 1.0",
        citation=(
            "LeBel, A., Wagner, L., Jain, S., et al. (2023). A natural language fMRI dataset for voxelwise "
            "encoding models. Scientific Data, 10, 555."
        ),
        modality="fmri",
        folder="lebel2023",
        tr=2.0045,
        files=openneuro_files(
            "ds003020",
            "participants.tsv",
            "dataset_description.json",
            "derivative/respdict.json",
            "derivative/TextGrids/wheretheressmoke.TextGrid",
        ),
        notes="Preprocessed responses in derivative/preprocessed_data/UTS0N/<story>.hf5 (HDF5).",
    )
)


#: The scanner's repetition time (the authors' code simulates 2.0 s TR files).
LEBEL_TR: float = INFO.tr
fetch_lebel2023 = make_fetcher(INFO.name)
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


def lebel_subject(subject) -> str:
    """Canonical LeBel subject name: ``1`` or ``"sub-UTS01"`` -> ``"UTS01"``."""
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
) -> SubjectData:
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
    SubjectData
        ``timeline``, ``recording`` (``kind="fmri"``, voxels in the order
        of the ``.hf5`` columns, no image space) and
        ``metadata["n_dropped_words"]`` (story -> words after the run's end).

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
    root = find_dataset_dir(INFO.name, path)
    uts = lebel_subject(subject)
    respdict_path = root / "derivative" / "respdict.json"
    respdict = load_json(respdict_path) if respdict_path.is_file() else {}
    arrays, timelines, dropped, shifts = [], [], {}, {}
    shift = float(sound_start) - int(trim_start) * float(tr)
    for story in stories:
        resp_file = require_file(INFO.name, root / "derivative" / "preprocessed_data" / uts / f"{story}.hf5",
                             f"Responses of {uts} to story {story!r}", _LEBEL_HOW)
        grid = require_file(INFO.name, root / "derivative" / "TextGrids" / f"{story}.TextGrid",
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
    return SubjectData(timeline, recording, subject=uts,
                       metadata={"dataset": INFO.name, "stories": stories, "n_dropped_words": dropped})


class _LeBelOptions(_Options):
    stories: Union[str, list[str]]
    tr: float = LEBEL_TR
    sound_start: float = 10.0
    trim_start: int = 10
    trim_end: int = 5
    detrend: bool = False
    standardize: Union[str, bool] = False


class LeBelAdapter(DatasetAdapter):
    name = INFO.name
    info = INFO
    Options = _LeBelOptions

    def list_subjects(self, root, options):
        root = find_dataset_dir(INFO.name, root)
        return subject_dirs(root / "derivative" / "preprocessed_data", "UTS*", r"UTS\d+")

    def canonical_subject(self, subject):
        return lebel_subject(subject)

    def stimulus_id(self, subject, options):
        stories = [options.stories] if isinstance(options.stories, str) else options.stories
        return "stories-" + "+".join(stories)

    def grid_id(self, subject, options):
        return self.stimulus_id(subject, options)  # words and TR grid come from the stories alone

    def load(self, subject, root, options):
        return load_lebel2023(subject, path=root, **options.model_dump())


register_dataset(LeBelAdapter())
