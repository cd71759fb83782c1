"""On-disk hand-over between tasks: recordings, designs and task markers, memory-mapped, never pickled.

Every task writes into a temporary folder next to its own (``.<name>.tmp-<host>-<pid>-<n>``),
finishes it with ``task.json`` (the marker: the task's key and the size and
SHA-256 of every file it wrote) and renames it into place, so a folder is
either absent or complete: a worker or a whole run killed mid-task loses only
that task, and leaves at most a temporary folder that the next run removes.
A "done" folder is trusted only when its files are still there with the sizes
its marker recorded (checksums too with ``checksum=True``); a damaged one is
named in a warning and recomputed.

One run at a time writes a study: :func:`study_lock` holds an OS lock on
``<output>/.work/study.lock`` (released by the kernel when its process dies,
so a killed run never leaves a stale lock) and writes who holds it next to it,
so a second run can say which run it is waiting for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..core import (
    BrainalignInputError,
    DesignMatrix,
    Recording,
    Timeline,
    atomic_path,
    atomic_suffixed_path,
    hash_file,
    load_arrays,
    load_json,
    save_arrays,
    save_json,
)

logger = logging.getLogger("brainalign.pipeline")

MARKER = "task.json"


# ------------------------------------------------------------------------------- markers
#: damaged task folders already named in a warning by this process (the plan and the task both check)
_warned: set[tuple[str, str]] = set()


def file_records(folder: Path, *, recursive: bool = True, exclude: tuple[Path, ...] = ()) -> dict[str, dict]:
    """Size and SHA-256 of every file of a task folder but its marker, by path relative to it.

    Files under ``exclude`` (other tasks' folders nested in this one) are left out.
    """
    files = sorted(folder.rglob("*") if recursive else folder.iterdir())
    return {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": hash_file(p)}
            for p in files if p.is_file() and p.name != MARKER and not p.name.startswith(".")
            and not any(p.is_relative_to(x) for x in exclude)}


def task_problem(folder: Path, key: str, *, checksum: bool = False) -> str | None:
    """Why the task ``key`` in ``folder`` cannot be trusted as done (a sentence), or ``None`` when it can.

    ``"unfinished"`` when there is no marker for this key; otherwise a damaged
    file named (missing, another size, or with ``checksum`` other bytes).
    """
    marker = folder / MARKER
    try:
        record = load_json(marker)
    except (OSError, ValueError):
        return "unfinished"
    if not isinstance(record, dict) or record.get("key") != key:
        return "unfinished"
    for rel, expected in (record.get("files") or {}).items():
        path = folder / rel
        if not path.is_file():
            return f"{rel} is missing"
        size = path.stat().st_size
        if size != expected["size"]:
            return f"{rel} has {size} bytes, its marker recorded {expected['size']}"
        if checksum and hash_file(path) != expected["sha256"]:
            return f"{rel} does not match the SHA-256 its marker recorded"
    return None


def is_done(folder: Path, key: str, *, checksum: bool = False) -> bool:
    """Whether the task ``key`` finished in ``folder`` and its files are intact (a damaged one is warned about)."""
    problem = task_problem(folder, key, checksum=checksum)
    if problem is None:
        return True
    if problem != "unfinished" and (str(folder), problem) not in _warned:
        _warned.add((str(folder), problem))
        try:
            label = load_json(folder / MARKER).get("label", folder.name)
        except (OSError, ValueError):
            label = folder.name
        logger.warning("Task %s (%s) is damaged: %s; it will be recomputed.", label, folder, problem)
    return False


def mark_done(folder: Path, key: str, kind: str, *, recursive: bool = True, exclude: tuple[Path, ...] = (),
              **info: Any) -> dict:
    """Write the marker last: the key, the finish time, ``info`` and the size + SHA-256 of every file."""
    record = {"key": key, "kind": kind, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              **info, "files": file_records(folder, recursive=recursive, exclude=exclude)}
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


_TMP_TAG = ".tmp-"


def _relocated(value: Any, old: str, new: str) -> Any:
    """``value`` with the temporary folder's path replaced by the final one in every string."""
    if isinstance(value, str):
        return new + value[len(old):] if value.startswith(old) else value
    if isinstance(value, dict):
        return {k: _relocated(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_relocated(v, old, new) for v in value]
    return value


def run_in_task_folder(task: dict, runner: Callable[[dict], dict | None], *, study_folder: Path | None = None) -> dict:
    """Run ``runner(task)`` so that ``task["folder"]`` appears complete or not at all; returns the marker.

    The runner gets the task with ``folder`` pointing to a temporary folder
    next to the real one; when it returns, the marker is written there and the
    folder renamed into place.  A folder another attempt finished first (Dask
    re-running a task of a worker it thought lost) is kept and this attempt's
    output dropped.  Tasks whose folder holds their inputs' folders (a layer
    sweep around its layer fits) or is the study folder itself (the study
    table) write in place, each file atomically and the marker last; their
    marker records only their own files.
    """
    folder = Path(task["folder"])
    key, kind, label = task["key"], task["kind"], task["label"]
    if is_done(folder, key):
        return read_marker(folder)
    nested = tuple(Path(i["folder"]) for i in task.get("inputs", ()) if Path(i["folder"]).is_relative_to(folder))
    top = study_folder is not None and folder == Path(study_folder)
    if nested or top:
        info = runner(task) or {}
        return mark_done(folder, key, kind, recursive=not top, exclude=nested, label=label, **info)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}{_TMP_TAG}{socket.gethostname()}-{os.getpid()}-{time.monotonic_ns()}"
    try:
        info = _relocated(runner({**task, "folder": str(tmp)}) or {}, str(tmp), str(folder))
        tmp.mkdir(parents=True, exist_ok=True)
        mark_done(tmp, key, kind, label=label, **info)
        _move_into_place(tmp, folder, key)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return read_marker(folder)


def _move_into_place(tmp: Path, folder: Path, key: str) -> None:
    if folder.exists():
        if task_problem(folder, key) is None:
            return  # another attempt finished the same task first: same content, keep it
        # an unfinished or damaged earlier attempt: set aside (one rename), then removed
        aside = folder.parent / f".{folder.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.replace(folder, aside)
        except FileNotFoundError:
            aside = None
    else:
        aside = None
    try:
        os.replace(tmp, folder)
    except OSError:
        # lost a race with another attempt that renamed its finished folder in first
        if task_problem(folder, key) is not None:
            raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def remove_leftovers(output: Path, max_depth: int = 5) -> int:
    """Delete the temporary and set-aside folders interrupted tasks left in a study; returns how many.

    Only safe under :func:`study_lock` (no other run is writing).
    """
    n = 0
    output = Path(output)
    for parent, dirs, _ in os.walk(output):
        depth = len(Path(parent).relative_to(output).parts)
        for name in list(dirs):
            if name.startswith(".") and (_TMP_TAG in name or ".old-" in name):
                shutil.rmtree(Path(parent) / name, ignore_errors=True)
                dirs.remove(name)
                n += 1
        if depth >= max_depth:
            dirs[:] = []
    return n


# ------------------------------------------------------------------------------- study lock
class StudyLockedError(BrainalignInputError):
    """Another run holds the study folder's lock."""


def _holder_text(info_path: Path) -> str:
    try:
        h = load_json(info_path)
        return f"host {h['host']}, pid {h['pid']}, started {h['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


@contextlib.contextmanager
def study_lock(output: Path, *, timeout: float = 0.0) -> Iterator[Path]:
    """Hold the study folder ``output`` for this run; a second run waits ``timeout`` s, then refuses.

    Raises
    ------
    StudyLockedError
        One line naming the run that holds the lock (host, pid, start time).
    """
    from filelock import FileLock, Timeout

    work = Path(output) / ".work"
    work.mkdir(parents=True, exist_ok=True)
    path, info_path = work / "study.lock", work / "study.lock.json"
    # not thread-local and not re-entrant: a second run_study in this very process must wait too
    lock = FileLock(str(path), thread_local=False, is_singleton=False)
    try:
        if timeout > 0:
            logger.debug("waiting up to %.0f s for the study lock %s", timeout, path)
        lock.acquire(timeout=max(float(timeout), 0.0) or 0.01)
    except Timeout:
        waited = f" after waiting {timeout:.0f} s" if timeout > 0 else ""
        raise StudyLockedError(f"Study folder {output} is in use by another run ({_holder_text(info_path)}){waited}; "
                               "wait for it to finish (or stop it), then run again to resume.") from None
    try:
        save_json(info_path, {"host": socket.gethostname(), "pid": os.getpid(),
                              "started": datetime.now().astimezone().isoformat(timespec="seconds")})
        removed = remove_leftovers(Path(output))
        if removed:
            logger.info("removed %d unfinished task folder(s) of an interrupted run", removed)
        yield path
    finally:
        with contextlib.suppress(OSError):
            info_path.unlink()
        lock.release()


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
