"""The training loop shared by the trainable encoders: device, streaming statistics, splits, checkpoints.

Everything here is model-agnostic: a model is an ``nn.Module`` whose
``forward(x, head)`` returns predictions for the targets of ``head`` (a subject,
or the single recording).  The loop trains it with AdamW, a one-cycle learning
rate, gradient clipping and an exponential moving average of the weights
(weight averaging), scores the *averaged* weights on an inner validation split
after every epoch, keeps the best epoch and stops early.  After every epoch the
whole state is written atomically to a content-addressed checkpoint, so a
killed fit resumes from its last finished epoch and a finished one is loaded,
never retrained.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..._logging import progress_disabled
from ...core import BrainalignInputError, atomic_path, content_key
from .._stats import correlation_score

logger = logging.getLogger("brainalign.encoding")

#: rows read from a (memory-mapped) array at once when streaming statistics or hashes
CHUNK_ROWS = 4096


# ---------------------------------------------------------------------------------------------- device
@dataclass(frozen=True)
class TorchDevice:
    """Where training runs and how: CUDA with bf16 autocast and pinned host memory, or plain CPU.

    One object carries the choice so that the loop has a single code path.

    Examples
    --------
    >>> dev = TorchDevice.resolve("cpu")
    >>> tuple(dev.put(np.zeros((2, 3), dtype=np.float32)).shape), dev.pin_memory
    ((2, 3), False)
    """

    device: "torch.device"
    autocast_dtype: "torch.dtype | None"
    pin_memory: bool

    @classmethod
    def resolve(cls, device: str = "auto") -> "TorchDevice":
        import torch

        if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
            raise BrainalignInputError(f"device must be 'auto', 'cpu' or 'cuda[:k]', got {device!r}.")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise BrainalignInputError(
                f"device={device!r} was asked for but CUDA is not available; use 'auto' or 'cpu'.")
        gpu = dev.type == "cuda"
        return cls(dev, torch.bfloat16 if gpu else None, gpu)

    def put(self, array: np.ndarray) -> "torch.Tensor":
        """A host array as a tensor on the device (through pinned memory on CUDA)."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.pin_memory:
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=self.pin_memory)

    def autocast(self):
        """Mixed precision on CUDA (bf16), a no-op context on CPU."""
        import torch

        return torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                              enabled=self.autocast_dtype is not None)


# ------------------------------------------------------------------------------------ streamed arrays
def check_rows(array, name: str, n_rows: int | None = None, ndim: int = 2):
    """A 2-D numeric array-like (memory maps stay memory maps), with ``n_rows`` rows when given."""
    if not hasattr(array, "shape") or not hasattr(array, "dtype"):
        array = np.asarray(array, dtype=np.float32)
    if len(array.shape) != ndim or not np.issubdtype(array.dtype, np.number):
        raise BrainalignInputError(
            f"{name} must be a numeric {ndim}-D array, got shape {tuple(array.shape)} and dtype {array.dtype}."
        )
    if n_rows is not None and array.shape[0] != n_rows:
        raise BrainalignInputError(f"{name} has {array.shape[0]} rows but {n_rows} were expected (one per sample).")
    if array.shape[0] == 0:
        raise BrainalignInputError(f"{name} has no rows.")
    return array


def streamed_moments(array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and std over ``rows`` (sorted), read chunk by chunk (never the whole array at once).

    Zero-variance columns get scale 1 so that they stay zeros after scaling.
    """
    total = np.zeros(array.shape[1])
    total_sq = np.zeros(array.shape[1])
    for start in range(0, rows.size, CHUNK_ROWS):
        chunk = np.asarray(array[rows[start:start + CHUNK_ROWS]], dtype=np.float64)
        if not np.all(np.isfinite(chunk)):
            raise BrainalignInputError("Non-finite values (NaN/inf) in the training rows; clean the inputs first.")
        total += chunk.sum(0)
        total_sq += (chunk * chunk).sum(0)
    mean = total / rows.size
    std = np.sqrt(np.maximum(total_sq / rows.size - mean * mean, 0.0))
    return mean.astype(np.float32), np.where(std > 1e-12, std, 1.0).astype(np.float32)


def fingerprint(*arrays) -> str:
    """SHA-256 of arrays' shapes, dtypes and bytes, streamed in chunks of rows (memory maps included)."""
    h = hashlib.sha256()
    for array in arrays:
        if array is None:
            h.update(b"none")
            continue
        if not hasattr(array, "shape"):
            array = np.asarray(array)
        h.update(f"{tuple(array.shape)}{array.dtype}".encode())
        if array.dtype == object or array.dtype.kind in "US":
            h.update("\x00".join(map(str, np.asarray(array).ravel())).encode())
            continue
        for start in range(0, array.shape[0], CHUNK_ROWS):
            h.update(np.ascontiguousarray(array[start:start + CHUNK_ROWS]).tobytes())
    return h.hexdigest()


# -------------------------------------------------------------------------------- inner validation
def group_labels(groups, n_rows: int) -> np.ndarray:
    """Run labels per row (one run when ``None``), checked for length."""
    if groups is None:
        return np.zeros(n_rows, dtype=np.int64)
    groups = np.asarray(groups)
    if groups.shape != (n_rows,):
        raise BrainalignInputError(f"groups must hold one run label per row ({n_rows}), got shape {groups.shape}.")
    return groups


def segments(rows: np.ndarray, groups: np.ndarray) -> list[np.ndarray]:
    """Split sorted row indices into stretches that are contiguous and within one run."""
    if rows.size == 0:
        return []
    breaks = np.flatnonzero((np.diff(rows) != 1) | (groups[rows[1:]] != groups[rows[:-1]])) + 1
    return [s for s in np.split(rows, breaks) if s.size]


def inner_validation_split(groups: np.ndarray, gap: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Inner (train, validation) rows: the last ``fraction`` of the rows as one contiguous block.

    ``gap`` rows before the block are dropped from the inner training rows
    when they belong to the same run as the block's first row (they share
    haemodynamic history with it).  Rows are in time order within each run,
    as the estimator protocol requires.

    Examples
    --------
    >>> tr, va = inner_validation_split(np.array(["a"] * 6 + ["b"] * 4), gap=1, fraction=0.3)
    >>> tr.tolist(), va.tolist()
    ([0, 1, 2, 3, 4, 5], [7, 8, 9])
    """
    n = groups.size
    if not 0.0 < fraction < 1.0:
        raise BrainalignInputError(f"val_fraction must be in (0, 1), got {fraction!r}.")
    n_val = max(2, int(round(n * fraction)))
    start = n - n_val
    if start - gap < 2:
        raise BrainalignInputError(
            f"{n} training rows are too few for an inner validation block of {n_val} rows and a gap of {gap}; "
            "pass more rows, a smaller val_fraction or a smaller gap."
        )
    rows = np.arange(n)
    dropped = (rows >= start - gap) & (rows < start) & (groups == groups[start])
    return rows[(rows < start) & ~dropped], rows[start:]


# ------------------------------------------------------------------------------------ checkpoints
class Checkpointer:
    """One content-addressed checkpoint file, written atomically after every epoch.

    ``key`` hashes the estimator's parameters and the data's fingerprint, so a
    different fit never picks up this file.  Only state dicts, numbers and
    lists are saved (``torch.save``) and they are loaded with
    ``weights_only=True`` (no pickle of arbitrary objects).
    """

    def __init__(self, directory, key_payload: Mapping):
        self.key = content_key(dict(key_payload), length=24)
        self.path = None if directory is None else Path(directory) / f"deep-{self.key}.pt"

    def load(self) -> dict | None:
        if self.path is None or not self.path.exists():
            return None
        import torch

        try:
            return torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # a truncated file cannot exist (atomic writes); anything else is worth a log
            logger.warning("Ignoring unreadable checkpoint %s (%s); training from scratch.", self.path, err)
            return None

    def save(self, state: dict) -> None:
        if self.path is None:
            return
        import torch

        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)


# --------------------------------------------------------------------------------------- the loop
@dataclass
class TrainConfig:
    """Options of :func:`train` (copied from the estimator's parameters)."""

    max_epochs: int = 30
    lr: float = 1e-3
    weight_decay: float = 1e-2
    clip_norm: float = 1.0
    ema_decay: float = 0.9
    patience: int = 6
    seed: int = 0

    def check(self) -> "TrainConfig":
        for name in ("max_epochs", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise BrainalignInputError(f"{name} must be an int >= 1, got {value!r}.")
        for name in ("lr", "clip_norm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise BrainalignInputError(f"{name} must be a positive number, got {value!r}.")
        if not 0.0 <= self.ema_decay < 1.0:
            raise BrainalignInputError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}.")
        if not self.weight_decay >= 0:
            raise BrainalignInputError(f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        return self


Batch = tuple  # (inputs tensor, targets tensor, mask tensor or None, head key)


def train(
    model: "torch.nn.Module",
    batches: Callable[[np.random.Generator], Iterable[Batch]],
    n_batches: int,
    validate: Callable[["torch.nn.Module"], dict[str, np.ndarray]],
    config: TrainConfig,
    device: TorchDevice,
    checkpointer: Checkpointer,
    desc: str = "training",
) -> dict:
    """Train ``model`` in place; return the loop's record (best epoch, validation r per head, history).

    ``batches(rng)`` yields one epoch of batches (drawn with ``rng``, seeded
    per epoch so a resumed fit draws the same batches); ``validate(model)``
    returns validation r per target for each head.  On return the model holds
    the averaged weights of the best epoch.
    """
    import torch
    from torch import nn
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    config.check()
    model.to(device.device)
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=max(2, config.max_epochs * max(1, n_batches)), pct_start=0.2
    )
    record = {"history": [], "best_epoch": -1, "best_score": -math.inf, "best_state": None,
              "validation_r": None, "epoch": 0, "finished": False}
    saved = checkpointer.load()
    if saved is not None:
        model.load_state_dict(saved["model"])
        averaged.load_state_dict(saved["averaged"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        record.update(saved["record"])
        logger.info("%s: resuming from epoch %d (%s)%s", desc, record["epoch"], checkpointer.path,
                    " — already finished" if record["finished"] else "")
    bar = tqdm(total=config.max_epochs, initial=record["epoch"], desc=desc, unit="epoch", leave=False,
               disable=progress_disabled() or record["finished"])
    while not record["finished"]:
        epoch = record["epoch"]
        torch.manual_seed(config.seed * 100_003 + epoch)
        rng = np.random.default_rng([config.seed, epoch])
        model.train()
        losses = []
        for inputs, targets, mask, head in batches(rng):
            with device.autocast():
                pred = model(inputs, head)
            err = (pred.float() - targets) ** 2
            loss = (err * mask).sum() / mask.sum().clamp_min(1) / err.shape[-1] if mask is not None else err.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            if schedule.last_epoch + 1 < schedule.total_steps:
                schedule.step()
            averaged.update_parameters(model)
            losses.append(float(loss.detach()))
        averaged.eval()
        with torch.no_grad():
            val = {k: np.asarray(v, dtype=np.float64) for k, v in validate(averaged.module).items()}
        score = float(np.mean(np.concatenate([v.ravel() for v in val.values()])))
        record["history"].append({"epoch": epoch, "loss": float(np.mean(losses)) if losses else math.nan,
                                  "val_r": score})
        if score > record["best_score"]:
            record.update(best_score=score, best_epoch=epoch, validation_r={k: v.tolist() for k, v in val.items()},
                          best_state={k: v.detach().cpu().clone() for k, v in averaged.module.state_dict().items()})
        record["epoch"] = epoch + 1
        stalled = record["epoch"] - 1 - record["best_epoch"] >= config.patience
        record["finished"] = record["epoch"] >= config.max_epochs or stalled
        checkpointer.save({"model": model.state_dict(), "averaged": averaged.state_dict(),
                           "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                           "record": record})
        bar.update(1)
        bar.set_postfix(loss=f"{record['history'][-1]['loss']:.3f}", val_r=f"{score:.3f}")
    bar.close()
    if record["best_state"] is not None:
        model.load_state_dict(record["best_state"])
    model.eval()
    return record


def per_target_r(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pearson r per target (0 for constant columns), as in the ridge encoders' scores."""
    return correlation_score(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64))


def row_batches(n_rows: int, batch_size: int, rng: np.random.Generator | None = None) -> Sequence[np.ndarray]:
    """Row indices in batches (shuffled with ``rng``; in order without)."""
    order = rng.permutation(n_rows) if rng is not None else np.arange(n_rows)
    return [np.sort(order[i:i + batch_size]) for i in range(0, n_rows, batch_size)]
