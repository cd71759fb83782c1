"""Content-keyed, crash-safe, resumable on-disk store of feature sets.

Layout of one entry (``<root>/<key>/``)::

    features.json          sidecar, written LAST: its presence marks the entry complete
    timeline.npz           tokens / onsets / offsets / runs
    layers/<i>-<name>.safetensors   one file per layer, a single tensor "features"
    partial/               only while an extraction is running
        plan.json          what the chunks are (n_chunks, n_events, layer names)
        chunk-000003.safetensors    rows of every layer for chunk 3, plus "__rows__"

Every file appears atomically (written to a temporary name, then renamed), so
a crash never leaves a half-written chunk or layer that looks valid.  An
interrupted extraction resumes at the first chunk that is not on disk.
Assembly streams one layer at a time into a memory-mapped output file, so the
peak memory of finalising is about one chunk, and :meth:`FeatureStore.get`
returns memory-mapped, read-only layers.  Nothing is ever pickled.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any, Iterable, Mapping

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

STORE_FORMAT = "brainalign-featurestore-1"
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


# ------------------------------------------------------------------ store
class FeatureStore:
    """A directory of feature sets, one sub-directory per content key.

    Parameters
    ----------
    root : str or Path
        Where entries live (created on first write).

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
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

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
        if not re.fullmatch(r"[A-Za-z0-9_-]+", str(key)):
            raise BrainalignInputError(f"Invalid store key {key!r}: use letters, digits, '-' and '_'.")
        return self.root / str(key)

    def __contains__(self, key: str) -> bool:
        return (self.path(key) / "features.json").is_file()

    def keys(self) -> list[str]:
        """Keys of the complete entries."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "features.json").is_file())

    def get(self, key: str, *, layers: Iterable[str] | None = None, mmap: bool = True) -> FeatureSet | None:
        """The stored feature set, or ``None`` when ``key`` has no complete entry.

        Layers are memory-mapped read-only in their stored dtype
        (``float16`` or ``float32``) unless ``mmap=False`` (then loaded in RAM).
        """
        directory = self.path(key)
        sidecar_path = directory / "features.json"
        if not sidecar_path.is_file():
            return None
        sidecar = load_json(sidecar_path)
        if sidecar.get("format") != STORE_FORMAT:
            raise BrainalignInputError(
                f"{sidecar_path} has format {sidecar.get('format')!r}, expected {STORE_FORMAT!r}."
            )
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
        tl = load_arrays(directory / "timeline.npz")
        timeline = Timeline(tl["tokens"], tl["onsets"], tl["offsets"], tl["runs"])
        return FeatureSet(arrays, timeline, sidecar["metadata"])

    def put(self, key: str, features: FeatureSet, *, storage_dtype: str = "float32") -> FeatureSet:
        """Store an in-memory feature set (one chunk) and return the stored version."""
        writer = self.writer(key, features.timeline, n_chunks=1, metadata=features.metadata,
                             storage_dtype=storage_dtype, layer_names=features.layer_names)
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
        """Open (or resume) a chunked write of entry ``key``; see :class:`ChunkWriter`."""
        return ChunkWriter(self, key, timeline, n_chunks=n_chunks, metadata=metadata,
                           storage_dtype=storage_dtype, layer_names=layer_names)

    def delete(self, key: str) -> None:
        shutil.rmtree(self.path(key), ignore_errors=True)


class ChunkWriter:
    """Resumable writer of one store entry, chunk by chunk.

    A chunk holds, for a set of timeline rows, the features of every layer.
    Chunks already on disk from an interrupted run are reported by
    :meth:`completed_chunks` so the caller skips their computation.
    :meth:`finalize` assembles the layers (one at a time, streamed into
    memory-mapped files), writes the sidecar last and removes the chunks.
    """

    def __init__(self, store: FeatureStore, key: str, timeline: Timeline, *, n_chunks: int,
                 metadata: Mapping[str, Any] | None, storage_dtype: str,
                 layer_names: Iterable[str] | None) -> None:
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
        plan = {"n_chunks": self.n_chunks, "n_events": timeline.n_events,
                "timeline": timeline.content_hash, "storage_dtype": self.dtype.name}
        plan_path = self.partial / "plan.json"
        if plan_path.is_file() and load_json(plan_path) != plan:
            logger.warning("Discarding partial chunks of %s: they were written for another plan.", key)
            shutil.rmtree(self.partial)
        if not plan_path.is_file():
            save_json(plan_path, plan)

    def _chunk_path(self, index: int) -> Path:
        return self.partial / f"chunk-{index:06d}.safetensors"

    def completed_chunks(self) -> set[int]:
        """Indices of chunks already safely on disk."""
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
        with atomic_path(self._chunk_path(index)) as tmp:
            save_safetensors(tmp, tensors, metadata={"layer_names": json.dumps(self.layer_names)})

    def finalize(self) -> FeatureSet:
        """Assemble the layers from the chunks, write the sidecar, return the stored entry."""
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
        metadata = dict(self.metadata, store_key=self.key, storage_dtype=self.dtype.name)
        save_json(self.directory / "features.json", {
            "format": STORE_FORMAT,
            "key": self.key,
            "layer_names": self.layer_names,
            "layer_files": layer_files,
            "n_events": n_events,
            "metadata": metadata,
        })
        shutil.rmtree(self.partial, ignore_errors=True)
        result = self.store.get(self.key)
        assert result is not None
        return result


def load_features(path: str | os.PathLike, *, mmap: bool = True) -> FeatureSet:
    """Load features from a store entry directory or a :meth:`FeatureSet.save` directory."""
    path = Path(path)
    sidecar = path / "features.json"
    if not sidecar.is_file():
        raise BrainalignInputError(f"{path} holds no features.json: not a feature directory.")
    if load_json(sidecar).get("format") == STORE_FORMAT:
        result = FeatureStore(path.parent).get(path.name, mmap=mmap)
        assert result is not None
        return result
    return FeatureSet.load(path)
