"""The extraction engine shared by the text, image, video and speech extractors.

One place for what every modality does the same way:

- :func:`model_fingerprint` — the identity of a model's weights in cache keys
  (also used by :mod:`brainalign.localize`);
- :func:`open_cache` — the content key of one extraction and the cached entry;
- :func:`extraction_metadata` — the metadata keys every feature set carries;
- :class:`BatchRunner` — batches with out-of-memory back-off;
- :func:`run_chunks` — the resumable chunk loop: compute a chunk, store it
  atomically, skip chunks already stored by an interrupted run, assemble.

The per-modality modules keep only what differs: tokenisation and word
alignment (text), frame sampling and decoding (image / video), audio framing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .._logging import progress_disabled
from ..core import BrainalignInputError, FeatureSet, Timeline
from ._store import FeatureStore

logger = logging.getLogger("brainalign.features")

__all__ = [
    "ENGINE_VERSION",
    "BatchRunner",
    "extraction_metadata",
    "is_oom_error",
    "model_fingerprint",
    "open_cache",
    "run_chunks",
]

#: Enters every cache key; bumped whenever the engine changes the numbers extractors produce.
ENGINE_VERSION = 2

# Config fields that do not change the weights' numbers: library versions, where the model was loaded
# from, and which head classes the checkpoint was saved with (a backbone and the model with its head share
# a fingerprint).
_CONFIG_NOISE = ("transformers_version", "_commit_hash", "_name_or_path", "name_or_path", "architectures")

# Values sampled from each parameter tensor for the fingerprint (plus the tensor's sum and sum of squares).
_FINGERPRINT_SAMPLES = 256


# ------------------------------------------------------------------ fingerprint
def _config_text(net) -> str:
    """The model's configuration as JSON, without fields that only record library versions."""
    config = getattr(net, "config", None)
    if config is None:
        return ""
    settings = config.to_dict() if hasattr(config, "to_dict") else dict(vars(config))
    settings = {k: v for k, v in settings.items()
                if k not in _CONFIG_NOISE}
    return json.dumps(settings, sort_keys=True, default=str)


def model_fingerprint(net) -> str:
    """Identity of a model's weights for cache keys: architecture, configuration and parameters.

    Hashes the class name, the configuration and, for every parameter (in
    name order), its name, shape, a strided sample of
    ``256`` values and the tensor's sum and sum of squares (in float64).
    The sums make any change of a weight visible even when it falls between
    the sampled positions; the cost is one pass over the weights, on their
    device, with no copy of the model to the CPU.

    Parameters
    ----------
    net : torch.nn.Module
        The model (on any device, in any dtype).

    Returns
    -------
    str
        32 hexadecimal characters.

    Examples
    --------
    >>> import torch
    >>> a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    >>> model_fingerprint(a) == model_fingerprint(a), model_fingerprint(a) == model_fingerprint(b)
    (True, False)
    """
    import torch

    digest = hashlib.sha256()
    digest.update(type(net).__name__.encode())
    digest.update(_config_text(net).encode())
    with torch.no_grad():
        for name, param in sorted(net.named_parameters(), key=lambda kv: kv[0]):
            flat = param.detach().reshape(-1)
            step = max(1, flat.numel() // _FINGERPRINT_SAMPLES)
            sample = flat[::step][:_FINGERPRINT_SAMPLES].to(torch.float64).cpu().numpy()
            wide = flat.to(torch.float64)
            sums = torch.stack([wide.sum(), (wide * wide).sum()]).cpu().numpy()
            digest.update(name.encode())
            digest.update(str(tuple(param.shape)).encode())
            digest.update(np.ascontiguousarray(sample).tobytes())
            digest.update(np.ascontiguousarray(sums).tobytes())
    return digest.hexdigest()[:32]


# ------------------------------------------------------------------ cache and metadata
def open_cache(cache_dir, *, modality: str, model_id: str, revision, stimulus_hash: str,
               params: Callable[[], Mapping[str, Any]]):
    """``(store, key, cached FeatureSet or None)``; ``(None, None, None)`` without ``cache_dir``.

    The key covers the engine version, the modality, the model id and
    revision, the stimulus and ``params()`` (the fingerprint and every
    setting that changes the numbers); ``params`` is only called with a
    ``cache_dir`` because fingerprinting reads every weight.  A hit is marked
    ``metadata["cache_hit"] = True``.
    """
    if cache_dir is None:
        return None, None, None
    store = FeatureStore(cache_dir)
    key = FeatureStore.make_key(
        model_id=model_id, revision=revision, stimulus_hash=stimulus_hash,
        params={"engine": ENGINE_VERSION, "modality": modality, **dict(params())},
    )
    cached = store.get(key)
    if cached is not None:
        logger.info("Loaded cached %s features %s from %s.", modality, key, cache_dir)
        cached.metadata["cache_hit"] = True
    return store, key, cached


def extraction_metadata(*, modality: str, model_id: str, revision, model_class: str, model_fingerprint: str,
                        device, dtype, **extra) -> dict[str, Any]:
    """The metadata every extractor records, then modality-specific ``extra`` keys.

    Keys: ``modality`` (``"text"``, ``"image"``, ``"video"``, ``"audio"``),
    ``model_id``, ``revision``, ``model_class``, ``model_fingerprint`` (see
    :func:`model_fingerprint`), ``device``, ``dtype`` (of the forward pass)
    and ``engine_version``.
    """
    return {
        "modality": modality,
        "model_id": str(model_id),
        "revision": revision,
        "model_class": str(model_class),
        "model_fingerprint": str(model_fingerprint),
        "device": str(device),
        "dtype": str(dtype).replace("torch.", ""),
        "engine_version": ENGINE_VERSION,
        **extra,
    }


# ------------------------------------------------------------------ OOM back-off
def is_oom_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or CPU allocator) out-of-memory error."""
    import torch

    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t is not None)
    if oom_types and isinstance(exc, oom_types):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class BatchRunner:
    """Run items in batches; on an out-of-memory error halve the batch size and retry.

    The batch size found stays in effect for later calls, so one back-off
    serves the rest of the extraction.

    Parameters
    ----------
    batch_size : int
        Items per call at first.
    is_oom : callable
        Tells out-of-memory errors from others (which are re-raised).
    what : str
        What an item is, for the warning (``"windows"``, ``"frames"``).
    """

    def __init__(self, batch_size: int, is_oom: Callable[[BaseException], bool] = is_oom_error,
                 what: str = "items") -> None:
        if not isinstance(batch_size, (int, np.integer)) or int(batch_size) < 1:
            raise BrainalignInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.batch_size = int(batch_size)
        self.is_oom = is_oom
        self.what = what

    def run(self, items: Sequence, fn: Callable[[Sequence], Any]) -> Iterator[tuple[Sequence, Any]]:
        """Yield ``(batch, fn(batch))`` over ``items`` in order."""
        i = 0
        while i < len(items):
            batch = items[i:i + self.batch_size]
            try:
                result = fn(batch)
            except Exception as exc:  # noqa: BLE001 - re-raised unless it is an OOM
                if not self.is_oom(exc) or self.batch_size == 1:
                    raise
                self.batch_size = max(1, self.batch_size // 2)
                logger.warning("Out of memory with a batch of %d %s; retrying with batch size %d.",
                               len(batch), self.what, self.batch_size)
                _empty_accelerator_cache()
                continue
            yield batch, result
            i += len(batch)


def _empty_accelerator_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ------------------------------------------------------------------ the chunk loop
def run_chunks(
    compute: Callable[[int], tuple[np.ndarray, Mapping[str, np.ndarray]]],
    *,
    n_chunks: int,
    timeline: Timeline,
    metadata: Mapping[str, Any],
    store: FeatureStore | None = None,
    key: str | None = None,
    layer_names: Sequence[str] | None = None,
    storage_dtype: str = "float32",
    desc: str = "features",
    unit: str = "chunk",
    weights: Sequence[int] | None = None,
    first: tuple[np.ndarray, Mapping[str, np.ndarray]] | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> FeatureSet:
    """Compute chunks, store each atomically, resume after a crash, assemble the feature set.

    Parameters
    ----------
    compute : callable
        ``compute(k) -> (rows, {layer: (len(rows), n_dims) array})``: the
        timeline rows chunk ``k`` covers and their features.
    n_chunks : int
    timeline : Timeline
        One event per output row.
    metadata : mapping
        Stored with the result (see :func:`extraction_metadata`).
    store, key : FeatureStore and str, or None
        With a store, each chunk is written as a resumable chunk of entry
        ``key``; chunks already on disk (an interrupted run) are not
        recomputed.  Without, rows are assembled in memory.
    layer_names : sequence of str or None
        Layer order (default: the first chunk's).
    storage_dtype : {"float32", "float16"}
    desc, unit : str
        Progress bar label and unit.
    weights : sequence of int or None
        Progress units per chunk (e.g. frames), default one per chunk.
    first : tuple or None
        The result of ``compute(0)`` when the caller already has it (e.g. it
        ran the first chunk to learn the layers before opening the store).
    on_chunk : callable or None
        ``on_chunk(k, n_chunks)`` after chunk ``k`` is stored.

    Returns
    -------
    FeatureSet
        With ``metadata["chunks_computed"]``: how many chunks this call computed.
    """
    from tqdm.auto import tqdm

    metadata = dict(metadata)
    writer, done = None, set()
    if store is not None:
        writer = store.writer(key, timeline, n_chunks=n_chunks, metadata=metadata, storage_dtype=storage_dtype,
                              layer_names=layer_names)
        done = writer.completed_chunks()
        if done:
            logger.info("Resuming %s: %d of %d chunks already stored.", key, len(done), n_chunks)
    out: dict[str, np.ndarray] = {}
    np_dtype = np.float16 if storage_dtype == "float16" else np.float32
    todo = [k for k in range(n_chunks) if k not in done]
    total = sum(weights[k] for k in todo) if weights is not None else len(todo)
    try:
        with tqdm(total=total, desc=desc, unit=unit, disable=progress_disabled() or len(todo) < 2) as bar:
            for k in todo:
                rows, arrays = first if (k == 0 and first is not None) else compute(k)
                rows = np.asarray(rows, dtype=np.int64)
                if writer is not None:
                    writer.write_chunk(k, rows, arrays)
                else:
                    for name, values in arrays.items():
                        if name not in out:
                            out[name] = np.empty((timeline.n_events, np.shape(values)[1]), dtype=np_dtype)
                        out[name][rows] = values
                del arrays
                bar.update(weights[k] if weights is not None else 1)
                if on_chunk is not None:
                    on_chunk(k, n_chunks)
    except BaseException:
        # A store that locks its keys (hardened FeatureStore) releases the lock now, not when the
        # traceback is dropped; chunks already written stay for the next run to resume from.
        close = getattr(writer, "close", None)
        if close is not None:
            close()
        raise
    if writer is not None:
        result = writer.finalize()
    else:
        order = list(layer_names) if layer_names is not None else list(out)
        result = FeatureSet({name: out[name] for name in order}, timeline, metadata)
    result.metadata["chunks_computed"] = len(todo)
    return result
