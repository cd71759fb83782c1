"""Haxby et al. (2001) visual categories: PyMVPA's one-subject subset (block design, 12 runs).

Card facts (:data:`INFO`), loader (:func:`load_haxby_subset`) and study
adapter; the long description is ``datasets/haxby2001_subset.md``.
"""

from __future__ import annotations

import os
from typing import Literal, Optional, Sequence, Union

from ..core import BrainalignInputError
from ..recordings import check_timeline_fits, load_fmri
from ..stimuli import concatenate, read_events_tsv
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset
from ._fetch import find_dataset_dir
from ._registry import DatasetInfo, RemoteFile, register_info

INFO = register_info(
    DatasetInfo(
        name="haxby2001_subset",
        title="Haxby et al. (2001) visual categories, PyMVPA one-slice subset (block design, 12 runs)",
        landing_url="http://www.pymvpa.org/datadb/tutorial_data.html",
        licence="CC BY-SA 3.0 (per PyMVPA's documentation)",
        citation=(
            "Haxby, J. V., Gobbini, M. I., Furey, M. L., Ishai, A., Schouten, J. L., & Pietrini, P. (2001). "
            "Distributed and overlapping representations of faces and objects in ventral temporal cortex. "
            "Science, 293, 2425-2430."
        ),
        modality="fmri",
        folder="haxby2001_subset",
        tr=2.5,
        files=(
            RemoteFile("bold.nii.gz", None, "cbbd4d07803caaa9f77381af24e790cf77058664a128bd514a4c1668eefb92d7"),
            RemoteFile("mask.nii.gz", None, "8d879d35aaeee3afddfb69a7e1b8dd2b3be446671452d7e841dc6588845f2877"),
            RemoteFile("attributes_literal.txt", None,
                       "7769f235e93d3157ef7bd1102abfaf3bc058ad9ca28e89dc60b8e47f473207c3"),
        ),
        shared_folder="haxby2001_subset",
    )
)


HAXBY_SUBJECT = "sub-001"


def load_haxby_subset(
    path: str | os.PathLike | None = None,
    runs: Sequence[int] = (1, 2),
    resolution: str = "1slice",
    *,
    detrend: bool = True,
    high_pass: float | None = None,
    standardize: str | bool = "zscore_sample",
) -> SubjectData:
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
    SubjectData
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
                          standardize=standardize, subject=HAXBY_SUBJECT)
    timeline = concatenate(timelines)
    check_timeline_fits(timeline, recording)
    return SubjectData(timeline, recording, subject=HAXBY_SUBJECT,
                       metadata={"dataset": INFO.name, "runs": labels, "resolution": resolution})


class _HaxbyOptions(_Options):
    runs: list[int] = [1, 2]
    resolution: Literal["1slice", "25mm"] = "1slice"
    detrend: bool = True
    high_pass: Optional[float] = None
    standardize: Union[str, bool] = "zscore_sample"


class HaxbyAdapter(DatasetAdapter):
    """The Haxby (2001) subset: one participant, block design; events are category labels."""

    name = INFO.name
    info = INFO
    Options = _HaxbyOptions

    def list_subjects(self, root, options):
        return [HAXBY_SUBJECT]

    def load(self, subject, root, options):
        return load_haxby_subset(root, **options.model_dump())


register_dataset(HaxbyAdapter())
