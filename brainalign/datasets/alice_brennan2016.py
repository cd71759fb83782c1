"""Brennan et al. (2016) *Alice in Wonderland* story listening: fMRI ROI time courses.

Card facts (:data:`INFO`), fetcher, loader (:func:`load_alice`) and study
adapter in one place; the long description is ``datasets/alice_brennan2016.md``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np
import pandas as pd

from ..core import BrainalignInputError
from ..recordings import check_timeline_fits, load_roi_timecourses
from ..stimuli import read_textgrid
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset
from ._fetch import find_dataset_dir, make_fetcher
from ._registry import DatasetInfo, RemoteFile, register_info

logger = logging.getLogger("brainalign.datasets")

_SHA256 = {
    "stimuli/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid": "f42484c61db089132eaa0ed633468f04709669b89bbfbc712282c1478e2bd6b3",
    "6mm/s18-timecourses.txt": "0c286ab2c70fa71e4bc68eabaa4421ed18f54f06e8bab55cc83bb471b02fefaa",
    "6mm/s33-timecourses.txt": "6fe19447cd790deb4171814e2b5d55d958997642bc479d13f7c40d03aeebd7c4",
    "s18-rate.txt": "bdd7b6eff8f9866c69fd190eb338ae60699300e1badb79087c08ecb2e5b53e62",
    "s18-sndpwr.txt": "55aea9caa1eeafb20221bbb7822e48ee6998e20f171913203132ee11e3bf4dd1",
    "s18-rp_epiRTwm2_scan_0004__003.txt": "efd5fc39f149267ce3ef670671c06dce0fced5b88a8f0a0ac3050daa91ee80d6",
    "sept18-generic-predictors-under-hrf-with-logfrqhal.txt": "0b3edb01e8531aed8091b13e4f46cfdf630e0ec21b8758b54076de5c56f028e4",
}

INFO = register_info(
    DatasetInfo(
        name="alice_brennan2016",
        title="Alice in Wonderland story listening, fMRI ROI time courses (Brennan et al. 2016)",
        landing_url="https://sites.lsa.umich.edu/cnllab/2016/06/11/data-sharing-fmri-timecourses-story-listening/",
        licence="CC BY 4.0",
        citation=(
            "Brennan, J. R., Stabler, E. P., Van Wagenen, S. E., Luh, W.-M., & Hale, J. T. (2016). Abstract "
            "linguistic structure correlates with temporal activity during naturalistic comprehension. "
            "Brain and Language, 157-158, 81-94."
        ),
        modality="fmri-roi",
        folder="alice_brennan2016",
        tr=2.0,
        files=tuple(RemoteFile(p, None, h) for p, h in _SHA256.items()),
        shared_folder="alice_brennan2016",
        notes="TR inferred (372 volumes x 2 s = 744 s = TextGrid end); TextGrid time - 20 s = scan time.",
    )
)


ALICE_TR: float = INFO.tr
#: Volumes kept per subject (372 acquired - 10 discarded).
ALICE_N_VOLUMES = 362
fetch_alice_brennan2016 = make_fetcher(INFO.name)

ALICE_ROIS = ("LATL", "RATL", "LPTL", "LIPL", "LPreM", "LIFG")
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


def alice_subject(subject) -> str:
    """Canonical Alice subject name: ``18``, ``"18"``, ``"sub-18"`` -> ``"s18"``."""
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
) -> SubjectData:
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
    SubjectData
        ``timeline``: the 2127 words of the TextGrid (``sp`` pauses skipped)
        shifted by -20 s onto the scan clock (the audio starts with 20 s of
        silence; time 0 = first kept volume).  ``recording``: 362 volumes x
        6 ROIs (LATL RATL LPTL LIPL LPreM LIFG), TR 2.0 s, ``kind="roi"``.
        ``baselines``: ``{"rate": (362,), "sndpwr": (362,)}``, the authors'
        HRF-convolved word-rate and sound-power regressors, also as
        ``baseline_design`` (a DesignMatrix on the recording's grid).
        ``confounds``: (362, 6) SPM realignment parameters with the 10
        discarded volumes dropped.  ``extra["predictors"]``: the 12 generic
        linguistic predictors (362 rows, a DataFrame), or None when the file
        is absent.

    Examples
    --------
    >>> data = load_alice(subject="s18")  # doctest: +SKIP
    >>> data.recording.data.shape, sorted(data.baselines)  # doctest: +SKIP
    ((362, 6), ['rate', 'sndpwr'])

    Raises
    ------
    BrainalignInputError
        For subject ``s33``, whose time courses are all zeros (the error
        names the subject).
    """
    if resolution not in ("6mm", "10mm"):
        raise BrainalignInputError(f"resolution must be '6mm' or '10mm', got {resolution!r}.")
    root = find_dataset_dir("alice_brennan2016", path)
    subject = alice_subject(subject)
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
    predictors = None
    generic = root / "sept18-generic-predictors-under-hrf-with-logfrqhal.txt"
    if generic.is_file():
        predictors = pd.DataFrame(_column(generic, n, skip=ALICE_DISCARDED_VOLUMES), columns=list(ALICE_PREDICTORS))
    return SubjectData(
        timeline, recording, {"rate": rate, "sndpwr": sndpwr}, confounds=motion, subject=subject,
        metadata={"dataset": INFO.name, "resolution": resolution,
                  "baseline_source": "Brennan et al. 2016 HRF-convolved regressors"},
        extra={"predictors": predictors},
    )


class _AliceOptions(_Options):
    resolution: Literal["6mm", "10mm"] = "6mm"
    detrend: bool = True
    high_pass: Optional[float] = None
    standardize: Union[str, bool] = "zscore_sample"


class AliceAdapter(DatasetAdapter):
    name = INFO.name
    info = INFO
    Options = _AliceOptions

    def list_subjects(self, root, options):
        return list_subjects_alice(root, options.resolution)

    def canonical_subject(self, subject):
        return alice_subject(subject)

    def excluded_by_default(self):
        return ["s33"]  # all-zero time courses in the release (load_alice raises on it)

    def grid_id(self, subject, options):
        # every participant heard the same audio, scanned on the same grid
        return f"alice-{ALICE_N_VOLUMES}x{ALICE_TR:g}s"

    def shape_hint(self, subject, options):
        return (ALICE_N_VOLUMES, len(ALICE_ROIS))

    def load(self, subject, root, options):
        return load_alice(root, subject=subject, **options.model_dump())


register_dataset(AliceAdapter())
