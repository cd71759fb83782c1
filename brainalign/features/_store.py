"""Content-keyed, crash-safe, resumable, self-healing on-disk store of feature sets.

Layout of one entry (``<root>/<key>/``)::

    features.json          sidecar, written LAST: its presence marks the entry complete;
                           it records the size and SHA-256 of every other file
    timeline.npz           tokens / onsets / offsets / runs
    layers/<i>-<name>.safetensors   one file per layer, a single tensor "features"
    partial/               only while an extraction is running (or was interrupted)
        plan.json          what the chunks are (n_chunks, n_events, layer names)
        chunk-000003.safetensors    rows of every layer for chunk 3, plus "__rows__"

Next to the entries, ``<root>/.locks/<key>.lock`` are the per-key lock files
and ``<root>/.damaged/<key>-<time>/`` holds entries found damaged.

Every file appears atomically (written to a temporary name, then renamed), so
a crash never leaves a half-written chunk or layer that looks valid.  An
interrupted extraction resumes at the first chunk that is not on disk.
Assembly streams one layer at a time into a memory-mapped output file, so the
peak memory of finalising is about one chunk, and :meth:`FeatureStore.get`
returns memory-mapped, read-only layers.  Nothing is ever pickled.

Integrity: opening an entry checks that every file exists with the size the
sidecar recorded and that each layer's safetensors header matches it (a few
``stat`` calls and header reads, independent of the data size); the full
SHA-256 of every file is checked by ``brainalign cache verify`` and, when
asked for, on open (``FeatureStore(root, verify="checksum")``).  Checksums
are not the default on open because they read every byte: about 1.3-1.8 s
per GB on one core of the development machine, over 10x a plain read of the
same (cached) bytes, against about 0.15 ms per open for the size and header
checks (``benchmarks/bench_cache.py``); they would undo the memory-mapped,
read-what-you-use design.  A damaged entry is named in a
warning, moved to ``<root>/.damaged/`` and reported as absent, so the
extractors recompute it.

Concurrency: one writer per key at a time.  :meth:`FeatureStore.writer`
takes an exclusive per-key lock (:mod:`filelock`, an OS lock released by the
kernel when its process dies, so a killed writer never leaves a stale lock)
and holds it until :meth:`ChunkWriter.finalize` or :meth:`ChunkWriter.close`.
A second writer of the same key waits; when it gets the lock it finds either
the finished entry (then it writes nothing and returns it) or the chunks of
an interrupted writer (then it computes only the missing ones).  Chunks and
``partial/`` are only ever deleted by the lock holder.  Within one thread
the lock is re-entrant, so retrying after an exception in the same session
does not deadlock on the failed attempt's writer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import struct
import time
import zipfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
from safetensors.numpy import load_file as _st_load_file

from ..core import (
    BrainalignInputError,
    FeatureSet,
    Timeline,
    atomic_path,
    content_key,
    load_arrays,
    load_json,
    save_arrays,
    save_json,
)

logger = logging.getLogger("brainalign.features")

__all__ = ["ChunkWriter", "FeatureStore", "load_features", "read_safetensors_mmap", "write_safetensors_mmap"]

# The format name is part of every content key: entries written before sizes and
# checksums were recorded keep their keys and are checked structurally instead.
STORE_FORMAT = "brainalign-featurestore-1"
VERIFY_MODES = ("size", "checksum")
_LOCKS_DIR = ".locks"
_DAMAGED_DIR = ".damaged"
#: Sub-folders of a cache directory that are not feature entries: ``random-models`` holds the
#: random-weight models studies build (see :func:`~brainalign.features.make_random_text_model`).
NOT_ENTRIES = frozenset({"random-models"})
_SIDECAR_KEYS = ("layer_names", "layer_files", "n_events", "metadata")
# What a damaged file raises while being opened or memory-mapped.
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, struct.error)
_ST_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "BF16": None, "I64": np.int64}
_ST_NAMES = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}
_STORAGE_DTYPES = {"float32": np.float32, "float16": np.float16}


def _storage_dtype(name: str) -> np.dtype:
    if str(name) not in _STORAGE_DTYPES:
        raise BrainalignInputError(
            f"storage_dtype must be one of {sorted(_STORAGE_DTYPES)}, got {name!r}."
        )
    return np.dtype(_STORAGE_DTYPES[str(name)])


# ------------------------------------------------------------------ safetensors
def write_safetensors_mmap(path: str | os.PathLike, name: str, shape: tuple[int, ...], dtype) -> np.memmap:
    """Create a single-tensor safetensors file and return a writable memmap of its data.

    The file follows the safetensors format (8-byte little-endian header size,
    JSON header, raw little-endian data), so ``safetensors.numpy.load_file``
    reads it; writing through the memmap keeps the tensor out of RAM.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    header = {name: {"dtype": _ST_NAMES[dtype], "shape": list(shape), "data_offsets": [0, nbytes]}}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors aligns the data start to 8 bytes
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        fh.truncate(8 + len(raw) + nbytes)
    if nbytes == 0:
        return np.zeros(shape, dtype=dtype)  # np.memmap refuses empty maps
    return np.memmap(path, dtype=dtype.newbyteorder("<"), mode="r+", offset=8 + len(raw), shape=tuple(shape))


def save_safetensors(path: str | os.PathLike, tensors: Mapping[str, np.ndarray],
                     metadata: Mapping[str, str] | None = None) -> None:
    """Write a safetensors file straight from the arrays' buffers (no in-memory copy)."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays = []
    offset = 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dtype = arr.dtype.newbyteorder("=") if arr.dtype.byteorder != "|" else arr.dtype
        if np.dtype(dtype) == np.int64:
            code = "I64"
        elif np.dtype(dtype) in _ST_NAMES:
            code = _ST_NAMES[np.dtype(dtype)]
        else:
            raise BrainalignInputError(f"Cannot store dtype {arr.dtype} of tensor {name!r}.")
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
        arrays.append(arr.astype(arr.dtype.newbyteorder("<"), copy=False))
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for arr in arrays:
            if arr.nbytes:
                fh.write(memoryview(arr.reshape(-1)).cast("B"))


def read_safetensors_mmap(path: str | os.PathLike, name: str | None = None) -> np.ndarray:
    """Memory-map one tensor of a safetensors file read-only (no copy, no pickle)."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
    header.pop("__metadata__", None)
    if name is None:
        if len(header) != 1:
            raise BrainalignInputError(f"{path} holds {sorted(header)}; pass the tensor name.")
        name = next(iter(header))
    if name not in header:
        raise KeyError(f"Tensor {name!r} not in {path}; it holds {sorted(header)}.")
    info = header[name]
    dtype = _ST_DTYPES.get(info["dtype"])
    if dtype is None:
        raise BrainalignInputError(f"Unsupported safetensors dtype {info['dtype']!r} in {path}.")
    start, stop = info["data_offsets"]
    shape = tuple(info["shape"])
    if stop == start:
        return np.zeros(shape, dtype=dtype)
    arr = np.memmap(path, dtype=np.dtype(dtype).newbyteorder("<"), mode="r", offset=8 + size + start, shape=shape)
    return arr


def _file_name(index: int, layer: str) -> str:
    return f"{index:03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', layer)}.safetensors"


# ------------------------------------------------------------------ integrity
def _sha256(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """SHA-256 of a file, read in 1 MiB blocks into one reused buffer (memory stays flat)."""
    digest = hashlib.sha256()
    buffer = bytearray(block)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()


def _safetensors_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a complete safetensors file, or ``None``.

    Reads only the header: every tensor's data must lie inside the file, which
    catches truncation without reading the data.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f"{path.name} has {size} bytes, too short for a safetensors header"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                return f"{path.name} has {size} bytes but declares a {n}-byte header"
            header = json.loads(fh.read(n))
        header.pop("__metadata__", None)
        end = max((int(info["data_offsets"][1]) for info in header.values()), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
        return f"{path.name} has an unreadable safetensors header ({type(err).__name__}: {err})"
    if 8 + n + end != size:
        return f"{path.name} has {size} bytes, its header needs {8 + n + end} (truncated or overwritten)"
    return None


def _remove_temporaries(directory: Path) -> int:
    """Delete leftovers of :func:`~brainalign.core.atomic_path` (``.<name>.<random>.tmp``) in ``directory``.

    Only called by the holder of the key's lock: an atomic write in progress
    always belongs to the lock holder, so the others are from killed processes.
    """
    removed = 0
    if directory.is_dir():
        for tmp in directory.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
    return removed


def _file_record(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": _sha256(path)}


def _verify_mode(verify: str) -> str:
    if verify not in VERIFY_MODES:
        raise BrainalignInputError(f"verify must be one of {list(VERIFY_MODES)}, got {verify!r}.")
    return verify


# ------------------------------------------------------------------ store
class FeatureStore:
    """A directory of feature sets, one sub-directory per content key.

    Parameters
    ----------
    root : str or Path
        Where entries live (created on first write).
    verify : {"size", "checksum"}
        What :meth:`get` checks before returning an entry: ``"size"`` (the
        default) compares every file's size and safetensors header with the
        sidecar, at a cost independent of the data size; ``"checksum"`` also
        compares the SHA-256 of every byte (reads the whole entry once).
        A damaged entry is logged, moved to ``<root>/.damaged/`` and treated
        as absent, so it is recomputed.
    lock_timeout : float, optional
        Seconds to wait for another process writing the same key before
        raising :class:`TimeoutError`; ``None`` waits as long as it takes.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from brainalign.core import Timeline, FeatureSet
    >>> store = FeatureStore(tempfile.mkdtemp())
    >>> tl = Timeline(["a", "b", "c"], [0.0, 1.0, 2.0])
    >>> key = FeatureStore.make_key(model_id="toy", revision=None, stimulus_hash=tl.content_hash,
    ...                             params={"layers": ["layer.0"]})
    >>> store.get(key) is None
    True
    >>> writer = store.writer(key, tl, n_chunks=2, metadata={"model_id": "toy"})
    >>> writer.write_chunk(0, [0, 1], {"layer.0": np.ones((2, 4))})
    >>> writer.write_chunk(1, [2], {"layer.0": np.zeros((1, 4))})
    >>> float(store.get(writer.finalize().metadata["store_key"])["layer.0"].sum())
    8.0
    >>> store.verify_entry(key) is None  # full checksum: no problem found
    True
    """

    def __init__(self, root: str | os.PathLike, *, verify: str = "size", lock_timeout: float | None = None) -> None:
        self.root = Path(root)
        self.verify = _verify_mode(verify)
        self.lock_timeout = None if lock_timeout is None else float(lock_timeout)

    @staticmethod
    def make_key(
        *, model_id: str, revision: str | None, stimulus_hash: str, params: Mapping[str, Any] | None = None
    ) -> str:
        """Content key of one extraction: model id, revision, stimulus hash and every parameter."""
        return content_key(
            {
                "format": STORE_FORMAT,
                "model_id": str(model_id),
                "revision": revision,
                "stimulus": stimulus_hash,
                "params": dict(params or {}),
            }
        )

    def path(self, key: str) -> Path:
        """Directory of entry ``key`` (which must be letters, digits, ``-`` and ``_``)."""
        if not re.fullmatch(r"[A-Za-z0-9_-]+", str(key)):
            raise BrainalignInputError(f"Invalid store key {key!r}: use letters, digits, '-' and '_'.")
        return self.root / str(key)

    def __contains__(self, key: str) -> bool:
        return (self.path(key) / "features.json").is_file()

    def keys(self) -> list[str]:
        """Keys of the complete entries (not checked; see :meth:`verify_entry`)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and (p / "features.json").is_file())

    def all_keys(self) -> list[str]:
        """Keys of every entry directory: complete, partial (interrupted or being written) or damaged.

        Folders that other parts of brainalign keep in the cache directory
        (:data:`NOT_ENTRIES`, e.g. the random-weight models of studies) are
        not entries, so :meth:`clean` never takes them for empty ones.
        """
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.name not in NOT_ENTRIES
                      and re.fullmatch(r"[A-Za-z0-9_-]+", p.name))

    # -------------------------------------------------------------- locking
    def lock_path(self, key: str) -> Path:
        """The lock file of ``key`` (outside the entry, so moving an entry aside keeps its lock)."""
        return self.root / _LOCKS_DIR / f"{self.path(key).name}.lock"

    def _file_lock(self, key: str):
        from filelock import FileLock

        path = self.lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # One lock object per path and process, re-entrant per thread: a retry in
        # the same thread does not deadlock on an earlier, failed writer's hold,
        # while another thread (a Dask worker thread) waits like another process.
        # The path is resolved so that stores opened as "cache" and "/abs/cache" share it.
        return FileLock(str(path.parent.resolve() / path.name), is_singleton=True)

    def _acquire(self, key: str):
        from filelock import Timeout

        lock = self._file_lock(key)
        try:
            lock.acquire(timeout=0)
            return lock
        except Timeout:
            pass
        logger.info("Feature cache entry %s is being written by another process or thread (lock %s); waiting.",
                    key, lock.lock_file)
        try:
            lock.acquire(timeout=-1 if self.lock_timeout is None else self.lock_timeout)
        except Timeout as err:
            raise TimeoutError(
                f"Feature cache entry {self.path(key)} is still locked by another writer after "
                f"{self.lock_timeout} s (lock file {lock.lock_file})."
            ) from err
        return lock

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold the exclusive lock of ``key`` for the ``with`` block (waits for another holder).

        The lock is re-entrant within a thread; a process that dies releases
        it (it is an OS file lock).
        """
        lock = self._acquire(key)
        try:
            yield
        finally:
            lock.release()

    # -------------------------------------------------------------- integrity
    def _inspect(self, key: str, *, checksum: bool) -> tuple[dict | None, str | None]:
        """``(sidecar, problem)`` of a complete entry; ``problem`` is ``None`` when it is sound.

        Raises :class:`BrainalignInputError` for a readable sidecar of another format.
        """
        directory = self.path(key)
        sidecar_path = directory / "features.json"
        try:
            sidecar = load_json(sidecar_path)
        except FileNotFoundError:
            return None, "features.json is missing"
        except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return None, f"features.json is not valid JSON ({type(err).__name__}: {err})"
        if not isinstance(sidecar, dict):
            return None, "features.json does not hold a JSON object"
        if sidecar.get("format") != STORE_FORMAT:
            raise BrainalignInputError(
                f"{sidecar_path} has format {sidecar.get('format')!r}, expected {STORE_FORMAT!r}."
            )
        lacking = [k for k in _SIDECAR_KEYS if k not in sidecar]
        if lacking or not isinstance(sidecar["layer_files"], dict):
            return None, f"features.json lacks {lacking or ['layer_files']}"
        files = sidecar.get("files")
        if files is None:  # written before sizes and checksums were recorded: check what can be checked
            files = {"timeline.npz": {}, **{f"layers/{f}": {} for f in sidecar["layer_files"].values()}}
        for name in sidecar["layer_files"].values():
            if f"layers/{name}" not in files:
                return None, f"features.json does not record layers/{name}"
        for rel, record in files.items():
            path = directory / rel
            if not path.is_file():
                return None, f"{rel} is missing"
            size = path.stat().st_size
            if "size" in record and size != record["size"]:
                return None, f"{rel} has {size} bytes, expected {record['size']} (truncated or overwritten)"
            if rel.endswith(".safetensors"):
                problem = _safetensors_problem(path)
                if problem is not None:
                    return None, f"layers/{problem}"
            if checksum and "sha256" in record and _sha256(path) != record["sha256"]:
                return None, f"{rel} does not match its SHA-256 checksum (its bytes changed)"
        return sidecar, None

    def verify_entry(self, key: str, *, checksum: bool = True) -> str | None:
        """What is wrong with complete entry ``key`` (a sentence), or ``None`` when it is sound.

        With ``checksum=True`` (default) every byte is read and compared with
        the SHA-256 recorded when the entry was written; otherwise only sizes
        and safetensors headers are checked.  Only an entry with a sidecar is
        checked: ``"features.json is missing"`` is returned otherwise.
        """
        return self._try_load(key, None, mmap=True, checksum=checksum)[1]

    def quarantine(self, key: str, reason: str) -> Path | None:
        """Move entry ``key`` to ``<root>/.damaged/<key>-<time>/`` and log ``reason``; returns where.

        Takes the key's lock.  Returns ``None`` when there was nothing to move.
        """
        directory = self.path(key)
        with self.lock(key):
            if not directory.exists():
                return None
            stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 1_000_000:06d}"
            target = self.root / _DAMAGED_DIR / f"{directory.name}-{stamp}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(directory, target)  # same file system: atomic, nothing copied
        logger.warning("Feature cache entry %s is damaged: %s. Moved it to %s; it will be recomputed.",
                       directory, reason, target)
        return target

    def _load(self, key: str, layers, *, mmap: bool) -> FeatureSet:
        directory = self.path(key)
        sidecar = load_json(directory / "features.json")
        names = sidecar["layer_names"] if layers is None else [layers] if isinstance(layers, str) else list(layers)
        unknown = [n for n in names if n not in sidecar["layer_files"]]
        if unknown:
            raise BrainalignInputError(
                f"Unknown layer name(s) {unknown}; entry {key} has {sidecar['layer_names']}."
            )
        arrays = {}
        for name in names:
            file = directory / "layers" / sidecar["layer_files"][name]
            arrays[name] = read_safetensors_mmap(file, "features") if mmap else _st_load_file(file)["features"]
            if arrays[name].shape[0] != sidecar["n_events"]:
                raise ValueError(f"layers/{file.name} has {arrays[name].shape[0]} rows, "
                                 f"features.json says {sidecar['n_events']}")
        tl = load_arrays(directory / "timeline.npz")
        timeline = Timeline(tl["tokens"], tl["onsets"], tl["offsets"], tl["runs"])
        return FeatureSet(arrays, timeline, sidecar["metadata"])

    def get(self, key: str, *, layers: Iterable[str] | None = None, mmap: bool = True,
            verify: str | None = None) -> FeatureSet | None:
        """The stored feature set, or ``None`` when ``key`` has no complete, sound entry.

        Layers are memory-mapped read-only in their stored dtype
        (``float16`` or ``float32``) unless ``mmap=False`` (then loaded in RAM).
        The entry is checked first (``verify``, default: the store's
        ``verify``); a damaged one is logged, moved aside (:meth:`quarantine`)
        and ``None`` is returned so that the caller recomputes it.
        """
        if not (self.path(key) / "features.json").is_file():
            return None
        checksum = _verify_mode(self.verify if verify is None else verify) == "checksum"
        result, problem = self._try_load(key, layers, mmap=mmap, checksum=checksum)
        if problem is None:
            return result
        with self.lock(key):
            # a writer may have replaced the entry while we waited for the lock
            if not (self.path(key) / "features.json").is_file():
                return None
            result, problem = self._try_load(key, layers, mmap=mmap, checksum=checksum)
            if problem is None:
                return result
            self.quarantine(key, problem)
        return None

    def _try_load(self, key: str, layers, *, mmap: bool, checksum: bool) -> tuple[FeatureSet | None, str | None]:
        _, problem = self._inspect(key, checksum=checksum)
        if problem is not None:
            return None, problem
        try:
            return self._load(key, layers, mmap=mmap), None
        except BrainalignInputError:
            raise
        except _READ_ERRORS as err:
            return None, f"cannot be read ({type(err).__name__}: {err})"

    # -------------------------------------------------------------- writing
    def put(self, key: str, features: FeatureSet, *, storage_dtype: str = "float32") -> FeatureSet:
        """Store an in-memory feature set (one chunk) and return the stored version."""
        with self.writer(key, features.timeline, n_chunks=1, metadata=features.metadata,
                         storage_dtype=storage_dtype, layer_names=features.layer_names) as writer:
            if 0 not in writer.completed_chunks():
                writer.write_chunk(0, np.arange(features.n_events), features.layers)
            return writer.finalize()

    def writer(
        self,
        key: str,
        timeline: Timeline,
        *,
        n_chunks: int,
        metadata: Mapping[str, Any] | None = None,
        storage_dtype: str = "float32",
        layer_names: Iterable[str] | None = None,
    ) -> "ChunkWriter":
        """Open (or resume) a chunked write of entry ``key``; see :class:`ChunkWriter`.

        Waits while another process or thread writes ``key`` and holds the
        key's lock until :meth:`ChunkWriter.finalize` or :meth:`ChunkWriter.close`.
        """
        return ChunkWriter(self, key, timeline, n_chunks=n_chunks, metadata=metadata,
                           storage_dtype=storage_dtype, layer_names=layer_names)

    def delete(self, key: str) -> None:
        """Remove entry ``key`` (complete or partial), waiting for a writer of it to finish."""
        with self.lock(key):
            shutil.rmtree(self.path(key), ignore_errors=True)

    # -------------------------------------------------------------- maintenance
    def _is_locked_elsewhere(self, key: str) -> bool:
        from filelock import Timeout

        lock = self._file_lock(key)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

    def status(self, key: str, *, checksum: bool = True) -> tuple[str, str]:
        """``(state, detail)`` of entry ``key``.

        ``state`` is ``"ok"``, ``"damaged"`` (detail: what is wrong),
        ``"writing"`` (another process or thread holds the key's lock),
        ``"partial"`` (an interrupted extraction; detail: chunks on disk),
        ``"empty"`` (a directory with neither sidecar nor chunks) or
        ``"other"`` (a sidecar of another format; left alone by :meth:`clean`).
        """
        directory = self.path(key)
        if self._is_locked_elsewhere(key):
            return "writing", "locked by a running writer"
        if (directory / "features.json").is_file():
            try:
                problem = self.verify_entry(key, checksum=checksum)
            except BrainalignInputError as err:  # a readable sidecar of another format: not ours to judge
                return "other", str(err)
            return ("ok", "") if problem is None else ("damaged", problem)
        partial = directory / "partial"
        if partial.is_dir():
            n = len(list(partial.glob("chunk-*.safetensors")))
            return "partial", f"{n} chunk(s) of an interrupted extraction"
        return "empty", "neither features.json nor chunks"

    def clean(self, *, dry_run: bool = False, checksum: bool = True) -> list[tuple[str, Path]]:
        """Remove damaged entries, interrupted extractions and leftovers; returns ``(why, path)`` pairs.

        Removed: entries that fail :meth:`verify_entry` (``checksum`` as
        there), the ``partial/`` folders of interrupted extractions (their
        chunks could resume an extraction, but nothing will resume them once
        cleaned up), stray ``partial/`` folders and temporary files of complete
        entries, empty entry folders and everything under ``.damaged/``.
        Entries whose lock is held (being written) are left alone.  With
        ``dry_run=True`` nothing is removed.
        """
        from filelock import Timeout

        actions: list[tuple[str, Path]] = []
        for key in self.all_keys():
            directory = self.path(key)
            lock = self._file_lock(key)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                logger.info("Skipping %s: it is being written.", directory)
                continue
            try:
                state, detail = self.status(key, checksum=checksum)
                if state in ("damaged", "partial", "empty"):
                    actions.append((f"{state}: {detail}", directory))
                    if not dry_run:
                        shutil.rmtree(directory, ignore_errors=True)
                    continue
                leftovers = [directory / "partial"] if (directory / "partial").exists() else []
                leftovers += sorted((directory / "layers").glob(".*.tmp")) + sorted(directory.glob(".*.tmp"))
                for path in leftovers:
                    actions.append(("leftover of an interrupted write", path))
                    if not dry_run:
                        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            finally:
                lock.release()
        damaged = self.root / _DAMAGED_DIR
        if damaged.is_dir():
            for path in sorted(damaged.iterdir()):
                actions.append(("moved aside as damaged", path))
                if not dry_run:
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        # Lock files stay: deleting one while another process has it open would let
        # two processes lock different inodes of the same name.
        return actions


class ChunkWriter:
    """Resumable, locked writer of one store entry, chunk by chunk.

    A chunk holds, for a set of timeline rows, the features of every layer.
    Opening a writer takes the key's exclusive lock (waiting for another
    writer of the same key) and keeps it until :meth:`finalize` or
    :meth:`close` (or until the writer is garbage-collected or its process
    dies); ``with store.writer(...) as w:`` closes it on leaving the block.

    Chunks already on disk from an interrupted run are reported by
    :meth:`completed_chunks` so the caller skips their computation; when
    another writer finished the entry meanwhile, every chunk counts as
    completed, :meth:`write_chunk` stores nothing and :meth:`finalize`
    returns the finished entry.  :meth:`finalize` assembles the layers (one
    at a time, streamed into memory-mapped files), records each file's size
    and SHA-256 in the sidecar, writes the sidecar last and removes the chunks.
    """

    def __init__(self, store: FeatureStore, key: str, timeline: Timeline, *, n_chunks: int,
                 metadata: Mapping[str, Any] | None, storage_dtype: str,
                 layer_names: Iterable[str] | None) -> None:
        self._lock = None
        if int(n_chunks) < 1:
            raise BrainalignInputError(f"n_chunks must be >= 1, got {n_chunks}.")
        self.store = store
        self.key = key
        self.timeline = timeline
        self.n_chunks = int(n_chunks)
        self.metadata = dict(metadata or {})
        self.dtype = _storage_dtype(storage_dtype)
        self.layer_names = None if layer_names is None else list(layer_names)
        self.directory = store.path(key)
        self.partial = self.directory / "partial"
        self._lock = store._acquire(key)
        try:
            self.finished = self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> bool:
        """Under the lock: is the entry already finished?  Otherwise prepare ``partial/`` for resuming."""
        if (self.directory / "features.json").is_file():
            _, problem = self.store._inspect(self.key, checksum=False)
            if problem is None:
                logger.info("Feature cache entry %s was completed by another writer; reusing it.", self.key)
                return True
            self.store.quarantine(self.key, problem)
        plan = {"n_chunks": self.n_chunks, "n_events": self.timeline.n_events,
                "timeline": self.timeline.content_hash, "storage_dtype": self.dtype.name}
        plan_path = self.partial / "plan.json"
        if plan_path.is_file():
            try:
                same = load_json(plan_path) == plan
            except (OSError, ValueError):
                same = False
            if not same:
                logger.warning("Discarding partial chunks of %s: they were written for another plan "
                               "or their plan.json is unreadable.", self.key)
                shutil.rmtree(self.partial)
        if not plan_path.is_file():
            save_json(plan_path, plan)
        if _remove_temporaries(self.partial):
            logger.info("Removed unfinished chunk files of a killed writer of %s.", self.key)
        for path in sorted(self.partial.glob("chunk-*.safetensors")):
            problem = _safetensors_problem(path)
            if problem is not None:
                logger.warning("Discarding damaged chunk %s (%s); it will be recomputed.", path, problem)
                path.unlink()
        return False

    def close(self) -> None:
        """Release the key's lock (idempotent); :meth:`finalize` calls it."""
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            lock.release()

    def __enter__(self) -> "ChunkWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _chunk_path(self, index: int) -> Path:
        return self.partial / f"chunk-{index:06d}.safetensors"

    def _check_finished(self) -> bool:
        # Only a writer of this same thread can have finished the entry after this one
        # was opened (the lock is re-entrant within a thread), e.g. a retry after a failure.
        if not self.finished and (self.directory / "features.json").is_file():
            self.finished = self.store._inspect(self.key, checksum=False)[1] is None
        return self.finished

    def completed_chunks(self) -> set[int]:
        """Indices of chunks already safely on disk (all of them once the entry is finished)."""
        if self._check_finished():
            return set(range(self.n_chunks))
        return {i for i in range(self.n_chunks) if self._chunk_path(i).is_file()}

    def write_chunk(self, index: int, rows, arrays: Mapping[str, np.ndarray]) -> None:
        """Atomically store chunk ``index``: ``arrays[layer]`` holds the features of ``rows``."""
        if not 0 <= int(index) < self.n_chunks:
            raise BrainalignInputError(f"Chunk index {index} outside 0..{self.n_chunks - 1}.")
        rows = np.ascontiguousarray(np.asarray(rows, dtype=np.int64).reshape(-1))
        if self.layer_names is None:
            self.layer_names = list(arrays)
        missing = [n for n in self.layer_names if n not in arrays]
        if missing:
            raise BrainalignInputError(f"Chunk {index} lacks layer(s) {missing}.")
        tensors = {"__rows__": rows}
        for pos, name in enumerate(self.layer_names):
            arr = np.asarray(arrays[name])
            if arr.ndim != 2 or arr.shape[0] != rows.size:
                raise BrainalignInputError(
                    f"Chunk {index}, layer {name!r}: expected shape ({rows.size}, n_dims), got {arr.shape}."
                )
            tensors[f"layer{pos}"] = np.ascontiguousarray(arr, dtype=self.dtype)
        if self.finished:
            return  # another writer finished the entry: nothing to add
        with atomic_path(self._chunk_path(index)) as tmp:
            save_safetensors(tmp, tensors, metadata={"layer_names": json.dumps(self.layer_names)})

    def finalize(self) -> FeatureSet:
        """Assemble the layers from the chunks, write the sidecar, return the stored entry.

        Releases the key's lock, also when it fails.
        """
        try:
            if self._check_finished():
                shutil.rmtree(self.partial, ignore_errors=True)  # of a writer killed after its sidecar
                result = self.store.get(self.key)
                if result is None:
                    raise BrainalignInputError(f"Feature cache entry {self.directory} vanished while being read.")
                return result
            self._assemble()
            result = self.store.get(self.key)
            assert result is not None
            return result
        finally:
            self.close()

    def _assemble(self) -> None:
        missing = sorted(set(range(self.n_chunks)) - self.completed_chunks())
        if missing:
            raise BrainalignInputError(f"Cannot finalize {self.key}: chunk(s) {missing[:10]} are missing.")
        chunk_files = [self._chunk_path(i) for i in range(self.n_chunks)]
        if self.layer_names is None:  # resumed with every chunk already present
            from safetensors import safe_open

            with safe_open(str(chunk_files[0]), framework="numpy") as fh:
                self.layer_names = json.loads(fh.metadata()["layer_names"])
        layer_dir = self.directory / "layers"
        layer_dir.mkdir(parents=True, exist_ok=True)
        _remove_temporaries(layer_dir)  # layer files half-assembled by a killed writer
        n_events = self.timeline.n_events
        layer_files = {}
        for pos, name in enumerate(self.layer_names):
            target = layer_dir / _file_name(pos, name)
            out = None
            filled = np.zeros(n_events, dtype=bool)
            with atomic_path(target) as tmp:
                for path in chunk_files:
                    rows = read_safetensors_mmap(path, "__rows__")
                    block = read_safetensors_mmap(path, f"layer{pos}")
                    if out is None:
                        out = write_safetensors_mmap(tmp, "features", (n_events, block.shape[1]), self.dtype)
                    out[rows] = block
                    filled[rows] = True
                    del block
                if not filled.all():
                    raise BrainalignInputError(
                        f"Chunks of {self.key} leave {int((~filled).sum())} timeline rows without features."
                    )
                if isinstance(out, np.memmap):
                    out.flush()
                del out
            layer_files[name] = target.name
        tl = self.timeline
        save_arrays(self.directory / "timeline.npz",
                    {"tokens": tl.tokens, "onsets": tl.onsets, "offsets": tl.offsets, "runs": tl.runs})
        files = {"timeline.npz": _file_record(self.directory / "timeline.npz")}
        files.update({f"layers/{f}": _file_record(layer_dir / f) for f in layer_files.values()})
        metadata = dict(self.metadata, store_key=self.key, storage_dtype=self.dtype.name)
        save_json(self.directory / "features.json", {
            "format": STORE_FORMAT,
            "key": self.key,
            "layer_names": self.layer_names,
            "layer_files": layer_files,
            "n_events": n_events,
            "metadata": metadata,
            "files": files,
        })
        shutil.rmtree(self.partial, ignore_errors=True)


def load_features(path: str | os.PathLike, *, mmap: bool = True) -> FeatureSet:
    """Load features from a store entry directory or a :meth:`FeatureSet.save` directory.

    A damaged store entry raises :class:`~brainalign.core.BrainalignInputError`
    naming the entry and what is wrong (it is not moved: ``brainalign cache
    clean`` does that).
    """
    path = Path(path)
    sidecar = path / "features.json"
    if not sidecar.is_file():
        raise BrainalignInputError(f"{path} holds no features.json: not a feature directory.")
    try:
        fmt = load_json(sidecar).get("format")
    except (OSError, ValueError, AttributeError) as err:
        raise BrainalignInputError(f"{sidecar} is damaged: not a valid JSON object ({err}).") from err
    if fmt == STORE_FORMAT:
        store = FeatureStore(path.parent)
        problem = store.verify_entry(path.name, checksum=False)
        if problem is not None:
            raise BrainalignInputError(
                f"Feature cache entry {path} is damaged: {problem}. Recompute it (the extractors move damaged "
                f"entries aside) or remove it with `brainalign cache clean {path.parent}`."
            )
        return store._load(path.name, None, mmap=mmap)
    return FeatureSet.load(path)
