"""On-disk hand-over between tasks: recordings, designs and task markers, memory-mapped, never pickled.

Every task writes into its own folder and finishes by writing ``task.json``
(atomically, last): a folder without it is unfinished and is recomputed, so a
worker or a whole run killed mid-task loses only that task.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..core import (
    BrainalignInputError,
    DesignMatrix,
    Recording,
    Timeline,
    atomic_path,
    atomic_suffixed_path,
    load_arrays,
    load_json,
    save_arrays,
    save_json,
)

logger = logging.getLogger("brainalign.pipeline")

MARKER = "task.json"


# ------------------------------------------------------------------------------- markers
def is_done(folder: Path, key: str) -> bool:
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        return load_json(marker).get("key") == key
    except (OSError, ValueError):
        return False


def mark_done(folder: Path, key: str, kind: str, **info: Any) -> dict:
    record = {"key": key, "kind": kind, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              **info}
    save_json(folder / MARKER, record)
    return record


def read_marker(folder: Path) -> dict:
    return load_json(folder / MARKER)


def fresh_folder(folder: Path) -> Path:
    """An empty folder for a task about to run (leftovers of an interrupted attempt removed)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


# ------------------------------------------------------------------------------- arrays
def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)


def load_npy(path: Path, mmap: bool = True) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def save_timeline(path: Path, timeline: Timeline) -> None:
    save_arrays(path, {"tokens": np.asarray(timeline.tokens, dtype=str), "onsets": timeline.onsets,
                       "offsets": timeline.offsets, "runs": np.asarray(timeline.runs, dtype=str)})


def load_timeline(path: Path) -> Timeline:
    a = load_arrays(path)
    return Timeline(list(a["tokens"]), a["onsets"], a["offsets"], list(a["runs"]))


# ------------------------------------------------------------------------------- recordings
def _save_space(folder: Path, space) -> str | None:
    if space is None:
        return None
    import mne

    if isinstance(space, mne.Info):
        with atomic_suffixed_path(folder / "info-info.fif", "-info.fif") as named:
            mne.io.write_info(named, space)
        return "mne_info"
    mask = getattr(space, "mask_img_", None)
    if mask is not None:
        import nibabel as nib

        with atomic_suffixed_path(folder / "mask.nii.gz", ".nii.gz") as named:
            nib.save(mask, str(named))
        return "nifti_mask"
    labels = getattr(space, "labels_img_", None) or getattr(space, "labels_img", None)
    if labels is not None and not isinstance(labels, str):
        import nibabel as nib

        with atomic_suffixed_path(folder / "labels.nii.gz", ".nii.gz") as named:
            nib.save(labels, str(named))
        return "nifti_labels"
    logger.warning("The recording's space (%s) cannot be stored without pickle; study maps will be skipped "
                   "for it.", type(space).__name__)
    return None


def _load_space(folder: Path, kind: str | None):
    if kind == "mne_info":
        import mne

        return mne.io.read_info(folder / "info-info.fif", verbose="error")
    if kind == "nifti_mask":
        from nilearn.maskers import NiftiMasker

        return NiftiMasker(mask_img=str(folder / "mask.nii.gz")).fit()
    if kind == "nifti_labels":
        from nilearn.maskers import NiftiLabelsMasker

        return NiftiLabelsMasker(labels_img=str(folder / "labels.nii.gz")).fit()
    return None


def save_recording(folder: Path, recording: Recording, timeline: Timeline, baseline: DesignMatrix | None,
                   epochs: Timeline | None, metadata: dict | None = None) -> dict:
    """Write a loaded subject: data (memory-mappable .npy), timeline, baseline, epochs, space."""
    save_npy(folder / "data.npy", recording.data)
    save_timeline(folder / "timeline.npz", timeline)
    if epochs is not None:
        save_timeline(folder / "epochs.npz", epochs)
    if baseline is not None:
        save_design(folder / "baseline", baseline)
    space = _save_space(folder, recording.space)
    info = {"sampling_period": recording.sampling_period, "runs": list(map(str, recording.runs)),
            "target_names": recording.target_names, "kind": recording.kind, "subject": recording.subject,
            "metadata": recording.metadata, "space": space, "has_baseline": baseline is not None,
            "has_epochs": epochs is not None, "timeline_hash": timeline.content_hash,
            "extra": metadata or {}}
    save_json(folder / "recording.json", info)
    return info


def load_recording(folder: Path, *, mmap: bool = True, space: bool = False) -> Recording:
    info = load_json(folder / "recording.json")
    data = load_npy(folder / "data.npy", mmap=mmap)
    return Recording(data, info["sampling_period"], np.asarray(info["runs"]), info["target_names"], info["kind"],
                     _load_space(folder, info["space"]) if space else None, info["subject"], info["metadata"])


def load_subject_parts(folder: Path) -> dict:
    info = load_json(folder / "recording.json")
    return {"timeline": load_timeline(folder / "timeline.npz"),
            "baseline": load_design(folder / "baseline") if info["has_baseline"] else None,
            "epochs": load_timeline(folder / "epochs.npz") if info["has_epochs"] else None,
            "info": info}


# ------------------------------------------------------------------------------- designs
def save_design(folder: Path, design: DesignMatrix) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_npy(folder / "X.npy", design.X)
    save_json(folder / "design.json", {"runs": list(map(str, design.runs)), "sampling_period": design.sampling_period,
                                       "name": design.name, "feature_names": design.feature_names,
                                       "metadata": design.metadata})


def load_design(folder: Path, *, mmap: bool = True) -> DesignMatrix:
    side = load_json(folder / "design.json")
    if not (folder / "X.npy").is_file():
        raise BrainalignInputError(f"Design folder {folder} has no X.npy (an unfinished task?).")
    return DesignMatrix(load_npy(folder / "X.npy", mmap=mmap), np.asarray(side["runs"]), side["sampling_period"],
                        side["name"], side["feature_names"], side["metadata"])
