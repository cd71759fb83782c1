"""Content keys and crash-safe file writing.

Every stage of brainalign is a pure function of its config; outputs are stored
under a key derived from that config so that sweeps can be fanned out and
re-run without recomputation.  Nothing read back from disk is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ._validation import BrainalignInputError


def _canonical(obj: Any) -> Any:
    """Turn ``obj`` into something ``json.dumps(sort_keys=True)`` encodes stably."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"__array_sha256__": hash_array(obj)}
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"Cannot build a content key from object of type {type(obj).__name__}.")


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text of ``obj`` (sorted keys, arrays replaced by their hash)."""
    return json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"))


def content_key(obj: Any, length: int = 16) -> str:
    """Short SHA-256 key of a config-like object.

    Examples
    --------
    >>> content_key({"model": "gpt2", "layers": [1, 2]}) == content_key({"layers": [1, 2], "model": "gpt2"})
    True
    """
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def hash_array(arr: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    arr = np.ascontiguousarray(arr)
    h = hashlib.sha256()
    if arr.dtype == object:
        h.update(json.dumps([str(x) for x in arr.ravel()]).encode())
    else:
        h.update(str(arr.dtype).encode())
        h.update(memoryview(arr).cast("B"))
    h.update(str(arr.shape).encode())
    return h.hexdigest()


def hash_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success.

    A crash or exception leaves any previous file at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_suffixed_path(path: str | os.PathLike, suffix: str) -> Iterator[Path]:
    """Like :func:`atomic_path`, for writers that choose the format from the file name (nibabel, MNE).

    The temporary path ends in ``suffix`` (e.g. ``".nii.gz"``, ``"-info.fif"``).
    """
    with atomic_path(path) as tmp:
        named = tmp.with_name(tmp.name + suffix)
        try:
            yield named
            named.replace(tmp)
        finally:
            if named.exists():
                named.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (numpy scalars converted)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def load_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable.")


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Atomically save named arrays to an ``.npz`` file (string arrays stored as unicode)."""
    if not isinstance(arrays, Mapping):
        raise BrainalignInputError(f"save_arrays takes a mapping of name to array, got {type(arrays).__name__}.")
    clean = {}
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.dtype == object:
            value = value.astype(str)
        clean[key] = value
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **clean)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by :func:`save_arrays`; pickled content is refused."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def package_versions(packages, missing: str | None = None) -> dict[str, str]:
    """Installed version of each of ``packages``, for provenance in results summaries.

    A package that is not installed is left out, or recorded as ``missing`` when given.

    Examples
    --------
    >>> package_versions(["numpy"])["numpy"] != ""
    True
    """
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in packages:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            if missing is not None:
                out[pkg] = missing
    return out
