"""Loaders for the local layout of datasets (downloaded ones and the shared test copies)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, DesignMatrix, Recording, Timeline
from ..recordings import check_timeline_fits, events_timeline, load_fmri, load_meg_eeg, load_roi_timecourses
from ..stimuli import concatenate, read_events_tsv, read_textgrid
from ._fetch import find_dataset_dir

logger = logging.getLogger("brainalign.datasets")

ALICE_ROIS = ("LATL", "RATL", "LPTL", "LIPL", "LPreM", "LIFG")
ALICE_TR = 2.0
#: Seconds of silence before the story in the audio file (the TextGrid's clock).
ALICE_AUDIO_PADDING = 20.0
#: Volumes the authors discarded; motion and generic predictors still include them.
ALICE_DISCARDED_VOLUMES = 10
ALICE_TEXTGRID = "stimuli/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid"
ALICE_PREDICTORS = (
    "rate_conv", "frq_conv_orth", "break_conv_orth", "tdp_conv_orth", "tdx_conv_orth", "bup_conv_orth",
    "bux_conv_orth", "cfgsurp_conv_orth", "bigramlex_conv_orth", "trigramlex_conv_orth",
    "bigrampos_conv_orth", "trigrampos_conv_orth",
)


class AliceData(NamedTuple):
    """What :func:`load_alice` returns (unpacks like a tuple)."""

    timeline: Timeline
    recording: Recording
    baselines: dict
    motion: np.ndarray
    baseline_design: DesignMatrix
    predictors: pd.DataFrame | None


def _alice_subject(subject) -> str:
    text = str(subject).strip().lower()
    m = re.fullmatch(r"(?:sub-)?s?0*(\d+)", text)
    if not m:
        raise BrainalignInputError(f"Alice subject must look like 's18' or 18, got {subject!r}.")
    return f"s{int(m.group(1))}"


def list_subjects_alice(path: str | os.PathLike | None = None, resolution: str = "6mm") -> list[str]:
    """Subjects with ROI time courses in the local Alice folder, e.g. ``['s18', 's23', ...]``."""
    root = find_dataset_dir("alice_brennan2016", path)
    folder = root / resolution
    if not folder.is_dir():
        raise BrainalignInputError(f"No {resolution!r} folder in {root}; resolutions are '6mm' and '10mm'.")
    subjects = [p.name.split("-")[0] for p in folder.glob("s*-timecourses.txt")]
    return sorted(subjects, key=lambda s: int(s[1:]))


def _one_file(root: Path, pattern: str, what: str) -> Path:
    matches = sorted(root.glob(pattern))
    if len(matches) != 1:
        raise BrainalignInputError(f"Expected one {what} file matching {pattern!r} in {root}, found {len(matches)}.")
    return matches[0]


def _column(path: Path, n_expected: int, skip: int = 0) -> np.ndarray:
    values = np.loadtxt(path, ndmin=2)[skip:]
    if values.shape[0] != n_expected:
        raise BrainalignInputError(f"{path} has {values.shape[0] + skip} rows; expected {n_expected + skip}.")
    return values


def load_alice(
    path: str | os.PathLike | None = None,
    subject: str | int = "s18",
    resolution: str = "6mm",
    *,
    detrend: bool = True,
    high_pass: float | None = None,
    standardize: str | bool = "zscore_sample",
    on_bad_targets: str = "raise",
) -> AliceData:
    """Brennan et al. (2016) *Alice in Wonderland* fMRI: word timeline, ROI recording, baselines, motion.

    Parameters
    ----------
    path : path or None
        The dataset folder (with ``6mm/``, ``10mm/``, ``stimuli/``); default:
        ``$BRAINALIGN_DATA/alice_brennan2016``, else the shared copy
        ``$BRAINALIGN_SHARED_DATA/alice_brennan2016``.
    subject : str or int
        ``"s18"``, ``"18"`` or ``18`` (see :func:`list_subjects_alice`).
    resolution : {"6mm", "10mm"}
        ROI sphere radius.
    detrend, high_pass, standardize
        Cleaning of the ROI time courses (raw BOLD drifts; see
        :func:`brainalign.recordings.load_roi_timecourses`).

    Returns
    -------
    AliceData
        ``timeline``: the 2127 words of the TextGrid (``sp`` pauses skipped)
        shifted by -20 s onto the scan clock (the audio starts with 20 s of
        silence; time 0 = first kept volume).  ``recording``: 362 volumes x
        6 ROIs (LATL RATL LPTL LIPL LPreM LIFG), TR 2.0 s, ``kind="roi"``.
        ``baselines``: ``{"rate": (362,), "sndpwr": (362,)}``, the authors'
        HRF-convolved word-rate and sound-power regressors, also as
        ``baseline_design`` (a DesignMatrix on the recording's grid).
        ``motion``: (362, 6) SPM realignment parameters with the 10
        discarded volumes dropped.  ``predictors``: the 12 generic
        linguistic predictors (362 rows), or None when the file is absent.

    Raises
    ------
    BrainalignInputError
        For subject ``s33``, whose time courses are all zeros (the error
        names the subject).
    """
    if resolution not in ("6mm", "10mm"):
        raise BrainalignInputError(f"resolution must be '6mm' or '10mm', got {resolution!r}.")
    root = find_dataset_dir("alice_brennan2016", path)
    subject = _alice_subject(subject)
    roi_file = root / resolution / f"{subject}-timecourses.txt"
    if not roi_file.is_file():
        raise BrainalignInputError(
            f"No time courses for subject {subject!r} at {roi_file}; subjects here are "
            f"{list_subjects_alice(root, resolution)}."
        )
    recording = load_roi_timecourses(
        roi_file, ALICE_TR, names=ALICE_ROIS, runs=["run-1"], detrend=detrend, standardize=standardize,
        high_pass=high_pass, subject=subject, on_bad_targets=on_bad_targets,
    )
    recording.metadata.update(dataset="alice_brennan2016", resolution=resolution)
    n = recording.n_samples
    timeline = read_textgrid(root / ALICE_TEXTGRID, tier="word").shift(-ALICE_AUDIO_PADDING)
    check_timeline_fits(timeline, recording)
    rate = _column(root / f"{subject}-rate.txt", n)[:, 0]
    sndpwr = _column(root / f"{subject}-sndpwr.txt", n)[:, 0]
    motion = _column(_one_file(root, f"{subject}-rp_*.txt", "motion"), n, skip=ALICE_DISCARDED_VOLUMES)
    baselines = {"rate": rate, "sndpwr": sndpwr}
    design = DesignMatrix(
        np.column_stack([rate, sndpwr]), recording.runs, ALICE_TR, "baseline", ["rate", "sndpwr"],
        {"method": "provided", "source": "Brennan et al. 2016 HRF-convolved regressors", "subject": subject},
    )
    predictors = None
    generic = root / "sept18-generic-predictors-under-hrf-with-logfrqhal.txt"
    if generic.is_file():
        predictors = pd.DataFrame(_column(generic, n, skip=ALICE_DISCARDED_VOLUMES), columns=list(ALICE_PREDICTORS))
    return AliceData(timeline, recording, baselines, motion, design, predictors)


class HaxbyData(NamedTuple):
    recording: Recording
    timeline: Timeline


def load_haxby_subset(
    path: str | os.PathLike | None = None,
    runs: Sequence[int] = (1, 2),
    resolution: str = "1slice",
    *,
    detrend: bool = True,
    high_pass: float | None = None,
    standardize: str | bool = "zscore_sample",
) -> HaxbyData:
    """PyMVPA's Haxby (2001) subset: per-run 4-D NIfTI + BIDS events, TR 2.5 s from the header.

    Parameters
    ----------
    path : path or None
        The ``haxby2001_subset`` folder (default: data home, then the shared copy).
    runs : sequence of int
        Runs 1..12 to load; labels ``run-01`` ...
    resolution : {"1slice", "25mm"}
        ``1slice``: one axial slice (40 x 20 x 1) in the top-level
        ``mask.nii.gz``; ``25mm``: whole brain at 25 mm in ``masks/25mm/brain.nii.gz``.

    Returns
    -------
    HaxbyData
        ``recording`` (``kind="fmri"``, space = fitted NiftiMasker) and the
        block ``timeline`` (tokens = categories: face, house, cat, ...).
    """
    root = find_dataset_dir("haxby2001_subset", path)
    if resolution not in ("1slice", "25mm"):
        raise BrainalignInputError(f"resolution must be '1slice' or '25mm', got {resolution!r}.")
    mask = root / "mask.nii.gz" if resolution == "1slice" else root / "haxby2001/sub001/masks/25mm/brain.nii.gz"
    images, timelines, labels = [], [], []
    for r in runs:
        run_dir = root / f"haxby2001/sub001/BOLD/task001_run{int(r):03d}"
        if not run_dir.is_dir():
            raise BrainalignInputError(f"No run {r} in {root} (runs are 1..12).")
        label = f"run-{int(r):02d}"
        images.append(run_dir / f"bold_{resolution}.nii.gz")
        timelines.append(read_events_tsv(run_dir / "bold_events.tsv", run=label))
        labels.append(label)
    recording = load_fmri(images, mask_img=mask, runs=labels, detrend=detrend, high_pass=high_pass,
                          standardize=standardize, subject="sub-001")
    timeline = concatenate(timelines)
    check_timeline_fits(timeline, recording)
    return HaxbyData(recording, timeline)


class EEGLABData(NamedTuple):
    recording: Recording
    raw: object
    events: Timeline


def load_eeglab_tutorial(path: str | os.PathLike | None = None, **kwargs) -> EEGLABData:
    """The EEGLAB tutorial EEG (32 channels, 128 Hz) through MNE, with its annotations as a Timeline.

    Keyword arguments go to :func:`brainalign.recordings.load_meg_eeg`
    (``l_freq``, ``h_freq``, ``sfreq``, ``picks``).  ``events`` holds all
    annotations (``square`` targets and ``rt`` button presses).
    """
    root = find_dataset_dir("eeglab_tutorial", path)
    recording, raw = load_meg_eeg(root / "test_raw.set", **kwargs)
    return EEGLABData(recording, raw, events_timeline(raw))
