"""A multimodal temporal transformer encoder trained across subjects (after TRIBE, d'Ascoli et al.).

Re-implemented from the paper's description (its code is CC-BY-NC and is not
used here): each band (modality or layer group) gets its own linear
projection to a common width; whole bands are dropped at random in training
(modality dropout); a learned time embedding is added and a bidirectional
transformer encoder runs over windows of consecutive samples on a fine time
grid; the fine-grid outputs are shifted by a hemodynamic offset and
average-pooled to the recording's samples; each subject has its own linear
head (optionally after a shared low-rank projection).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

from ...core import BrainalignInputError
from .._sklearn_api import EncoderNotFittedError
from ._bands import SINGLE, resolve_bands
from .training import (
    Checkpointer,
    TorchDevice,
    TrainConfig,
    check_rows,
    fingerprint,
    group_labels,
    inner_validation_split,
    per_target_r,
    segments,
    streamed_moments,
    train,
)

logger = logging.getLogger("brainalign.encoding")



@dataclass
class _Subject:
    """One recording's arrays (possibly memory-mapped), split and standardisation statistics."""

    key: str
    X: object
    Y: object
    groups: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray

    def x_rows(self, a: int, b: int, X=None) -> np.ndarray:
        """Standardised design rows [a, b) (a slice: a memory map reads only those rows)."""
        X = self.X if X is None else X
        return ((np.asarray(X[a:b], dtype=np.float32) - self.x_mean) / self.x_scale).astype(np.float32)

    def y_rows(self, a: int, b: int) -> np.ndarray:
        return ((np.asarray(self.Y[a:b], dtype=np.float32) - self.y_mean) / self.y_scale).astype(np.float32)


def _windows(rows: np.ndarray, groups: np.ndarray, window: int, stride: int, shift: int = 0) -> list[tuple[int, int]]:
    """[start, stop) windows of at most ``window`` rows covering each contiguous stretch of ``rows``."""
    out = []
    for seg in segments(rows, groups):
        a, n = int(seg[0]), seg.size
        if n <= window:
            out.append((a, a + n))
            continue
        starts = list(range(shift % stride if shift else 0, n - window + 1, stride))
        if not starts or starts[0] > 0:
            starts.insert(0, 0)
        if starts[-1] + window < n:
            starts.append(n - window)
        out.extend((a + s, a + s + window) for s in starts)
    return out


class TemporalTransformerEncoder(BaseEstimator):
    """Multimodal temporal transformer encoder, on one recording or across subjects (TRIBE-style).

    Follows the encoding estimator protocol (``fit(X, Y, *, bands, groups,
    gap)`` / ``predict(X)`` / ``fit_info_``) and adds :meth:`fit_subjects` /
    :meth:`predict_subject` for one model across subjects (one head each).
    Everything is chosen on an inner validation block (the last
    ``val_fraction`` of each subject's rows, ``gap`` rows dropped before it)
    inside the rows given to ``fit``: standardisation statistics come from the
    inner training rows, the averaged weights of the best epoch are kept and
    training stops after ``patience`` epochs without improvement.

    Parameters
    ----------
    width, depth, n_heads, ff_mult : int
        Transformer width, layers, attention heads and feed-forward expansion.
    dropout : float
        Dropout inside the transformer.
    modality_dropout : float
        Probability of zeroing a whole band of a training window (TRIBE: 0.3).
    window : int
        Samples (recording rows) per training / prediction window.
    fine_factor : int
        Fine time steps per sample: each band's columns hold ``fine_factor``
        consecutive fine steps (step-major, see
        :func:`brainalign.alignment.fine_grid_design`); 1 = the sample grid.
    offset_samples : float
        Hemodynamic offset in samples: the response at sample ``t`` is pooled
        from the fine steps of sample ``t - offset_samples`` (rounded to fine steps).
    low_rank : int or None
        Width of a shared projection before the subject heads.
    max_epochs, patience : int
    lr, weight_decay, clip_norm, ema_decay : float
        AdamW (one-cycle schedule peaking at ``lr``), gradient clipping and the
        decay of the weight average that is validated and kept.
    batch_size : int
        Windows per step.
    val_fraction : float
    random_state : int
        Seed of the initial weights, batch order and dropout (``cross_validate`` passes its ``seed``).
    device : {"auto", "cpu", "cuda"}
        "auto" trains on CUDA (bf16 autocast, pinned memory) when present.
    checkpoint_dir : str, Path or None
        Where to keep the content-addressed checkpoint (resume after a kill;
        a finished fit is loaded, not retrained).
    band_sizes : sequence of int or None
        Columns per band when ``fit`` gets no ``bands``.

    Attributes
    ----------
    model_ : TemporalTransformer
    subjects_ : list of str
    validation_r_ : dict subject -> ndarray (n_targets,)
    validation_rows_ : dict subject -> ndarray of the rows (positions in the fit's rows) validated on
    fit_info_ : dict
        ``validation_r`` (per target), ``best_epoch``, ``epochs_run``, ``history``, ``checkpoint``, ``device``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)).astype("float32")
    >>> Y = X[:, :2] * X[:, 2:] + 0.1 * rng.normal(size=(300, 2))
    >>> enc = TemporalTransformerEncoder(width=16, depth=1, window=16, max_epochs=2).fit(X, Y)
    >>> enc.predict(X).shape
    (300, 2)
    """

    def __init__(self, *, width=64, depth=2, n_heads=4, ff_mult=2, dropout=0.1, modality_dropout=0.3, window=32,
                 fine_factor=1, offset_samples=0.0, low_rank=None, max_epochs=30, patience=6, lr=1e-3,
                 weight_decay=1e-2, clip_norm=1.0, ema_decay=0.9, batch_size=16, val_fraction=0.2, random_state=0,
                 device="auto", checkpoint_dir=None, band_sizes=None):
        self.width = width
        self.depth = depth
        self.n_heads = n_heads
        self.ff_mult = ff_mult
        self.dropout = dropout
        self.modality_dropout = modality_dropout
        self.window = window
        self.fine_factor = fine_factor
        self.offset_samples = offset_samples
        self.low_rank = low_rank
        self.max_epochs = max_epochs
        self.patience = patience
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.ema_decay = ema_decay
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.band_sizes = band_sizes

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, X, Y, *, bands=None, groups=None, gap=0) -> "TemporalTransformerEncoder":
        """Fit on one recording's training rows (see the class docstring)."""
        self.fit_subjects({SINGLE: X}, {SINGLE: Y}, None if groups is None else {SINGLE: groups},
                          bands=bands, gap=gap)
        # one recording: the per-target arrays themselves (as the ensemble and the protocol's fit_info_ expect)
        self.validation_r_ = self.validation_r_[SINGLE]
        self.validation_rows_ = self.validation_rows_[SINGLE]
        self.fit_info_ = {**self.fit_info_, "validation_r": self.validation_r_}
        return self

    def fit_subjects(self, designs, responses, groups=None, *, bands=None, gap=0) -> "TemporalTransformerEncoder":
        """One model across subjects: ``designs[s]`` (n_s, n_features), ``responses[s]`` (n_s, n_targets_s).

        All subjects share the band layout (same features); ``groups[s]``
        gives run labels per row.  Each subject gets its own head and its own
        inner validation block; the validation score is the mean r over all
        subjects' targets.
        """
        self._check_params()
        if not isinstance(designs, dict) or not designs or set(designs) != set(responses):
            raise BrainalignInputError(
                "fit_subjects needs dicts designs and responses with the same subject keys, got "
                f"{sorted(designs) if isinstance(designs, dict) else type(designs).__name__} and "
                f"{sorted(responses) if isinstance(responses, dict) else type(responses).__name__}."
            )
        groups = groups or {}
        gap = int(gap)
        subjects = list(designs)
        n_features = None
        data = []
        for k, s in enumerate(subjects):
            X = check_rows(designs[s], f"design of subject {s!r}")
            Y = responses[s]
            Y = check_rows(Y if np.ndim(Y) != 1 else np.asarray(Y)[:, None], f"responses of subject {s!r}", X.shape[0])
            if n_features is None:
                n_features = X.shape[1]
            elif X.shape[1] != n_features:
                raise BrainalignInputError(f"subject {s!r} has {X.shape[1]} design columns, others {n_features}.")
            g = group_labels(groups.get(s), X.shape[0])
            tr, va = inner_validation_split(g, gap, self.val_fraction)
            x_mean, x_scale = streamed_moments(X, tr)
            y_mean, y_scale = streamed_moments(Y, tr)
            data.append(_Subject(f"s{k}", X, Y, g, tr, va, x_mean, x_scale, y_mean, y_scale))
        specs = resolve_bands(bands, self.band_sizes, n_features, type(self).__name__)
        if any(b.n_features % self.fine_factor for b in specs):
            raise BrainalignInputError(
                f"fine_factor={self.fine_factor} must divide every band's column count "
                f"{[b.n_features for b in specs]} (each row holds fine_factor steps of each band)."
            )
        import torch

        from .networks import TemporalTransformer

        self.device_ = TorchDevice.resolve(self.device)
        torch.manual_seed(int(self.random_state))
        model = TemporalTransformer(
            [b.n_features for b in specs], {d.key: int(d.Y.shape[1]) for d in data}, width=int(self.width),
            depth=int(self.depth), n_heads=int(self.n_heads), ff_mult=int(self.ff_mult), dropout=float(self.dropout),
            modality_dropout=float(self.modality_dropout), window=int(self.window), fine_factor=int(self.fine_factor),
            offset_steps=int(round(self.offset_samples * self.fine_factor)), low_rank=self.low_rank,
        )
        params = {k: v for k, v in self.get_params().items() if k not in ("checkpoint_dir", "device")}
        ckpt = Checkpointer(self.checkpoint_dir, {
            "estimator": type(self).__name__, "params": params, "gap": gap, "bands": [b.n_features for b in specs],
            # hashing the data is a full pass over it: only when a checkpoint is kept
            "data": [[s, fingerprint(d.X, d.Y, d.groups)] for s, d in zip(subjects, data)]
            if self.checkpoint_dir is not None else None,
        })
        stride = max(1, int(self.window) // 2)

        def batches(rng):
            items = []
            for d in data:
                wins = _windows(d.train_rows, d.groups, int(self.window), stride, shift=int(rng.integers(stride)))
                order = rng.permutation(len(wins))
                for i in range(0, len(wins), int(self.batch_size)):
                    items.append((d, [wins[j] for j in order[i:i + int(self.batch_size)]]))
            for i in rng.permutation(len(items)):
                d, wins = items[i]
                yield self._batch(d, wins, with_targets=True)

        n_batches = sum(-(-len(_windows(d.train_rows, d.groups, int(self.window), stride)) // int(self.batch_size))
                        for d in data)

        def validate(net):
            return {d.key: per_target_r(d.Y[d.val_rows[0]:d.val_rows[-1] + 1],
                                        self._predict_rows(net, d, d.X, d.val_rows, d.groups)) for d in data}

        config = TrainConfig(int(self.max_epochs), float(self.lr), float(self.weight_decay), float(self.clip_norm),
                             float(self.ema_decay), int(self.patience), int(self.random_state))
        record = train(model, batches, n_batches, validate, config, self.device_, ckpt,
                       desc=f"transformer ({len(subjects)} subject{'s' * (len(subjects) > 1)})")
        self.model_ = model
        self.bands_ = specs
        self.subjects_ = subjects
        self._data = {s: d for s, d in zip(subjects, data)}
        self.validation_r_ = {s: np.asarray(record["validation_r"][d.key]) for s, d in zip(subjects, data)}
        self.validation_rows_ = {s: d.val_rows for s, d in zip(subjects, data)}
        self.history_ = record["history"]
        self.fit_info_ = {"validation_r": self.validation_r_, "best_epoch": record["best_epoch"],
                          "epochs_run": record["epoch"], "history": record["history"],
                          "checkpoint": None if ckpt.path is None else str(ckpt.path),
                          "device": str(self.device_.device)}
        return self

    def _check_params(self) -> None:
        for name in ("width", "depth", "n_heads", "ff_mult", "window", "fine_factor", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise BrainalignInputError(f"{name} must be an int >= 1, got {value!r}.")
        if self.width % self.n_heads:
            raise BrainalignInputError(f"width={self.width} must be a multiple of n_heads={self.n_heads}.")
        for name in ("dropout", "modality_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise BrainalignInputError(f"{name} must be in [0, 1), got {getattr(self, name)!r}.")
        if not 0 <= self.offset_samples < self.window:
            raise BrainalignInputError(
                f"offset_samples must be in [0, window={self.window}), got {self.offset_samples!r}.")
        if self.low_rank is not None and (not isinstance(self.low_rank, (int, np.integer)) or self.low_rank < 1):
            raise BrainalignInputError(f"low_rank must be None or an int >= 1, got {self.low_rank!r}.")

    # --------------------------------------------------------------------------------------- batches
    def _batch(self, d: _Subject, wins, with_targets: bool, X=None):
        w = int(self.window)
        x = np.zeros((len(wins), w, d.x_mean.size), dtype=np.float32)
        pad = np.ones((len(wins), w), dtype=bool)
        y = np.zeros((len(wins), w, d.Y.shape[1]), dtype=np.float32) if with_targets else None
        for i, (a, b) in enumerate(wins):
            x[i, : b - a] = d.x_rows(a, b, X)
            pad[i, : b - a] = False
            if with_targets:
                y[i, : b - a] = d.y_rows(a, b)
        dev = self.device_
        inputs = (dev.put(x), dev.put(pad))
        if not with_targets:
            return inputs
        mask = dev.put((~pad)[..., None].astype(np.float32))
        return _Inputs(*inputs), dev.put(y), mask, d.key

    def _predict_rows(self, net, d: _Subject, X, rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Predictions (original units) for ``rows`` of ``X`` (sorted), windows overlapping by half."""
        w = int(self.window)
        wins = _windows(rows, groups, w, max(1, w // 2))
        # accumulators span only rows[0]..rows[-1] (validation rows of a long memory-mapped store stay small)
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        total = np.zeros((hi - lo, d.Y.shape[1]), dtype=np.float64)
        weight = np.zeros(hi - lo)
        # rows near a window's edge see less context: weight each window's rows by distance to its edges
        ramp = 1.0 + np.minimum(np.arange(w), np.arange(w)[::-1])
        import torch

        net.eval()
        chunk = 4 * int(self.batch_size)
        with torch.no_grad():
            for i in range(0, len(wins), chunk):
                part = wins[i:i + chunk]
                x, pad = self._batch(d, part, with_targets=False, X=X)
                with self.device_.autocast():
                    out = net(_Inputs(x, pad), d.key).float().cpu().numpy()
                for (a, b), o in zip(part, out):
                    r = ramp[: b - a]
                    total[a - lo:b - lo] += o[: b - a] * r[:, None]
                    weight[a - lo:b - lo] += r
        pred = total / np.maximum(weight, 1e-12)[:, None]
        return (pred * d.y_scale + d.y_mean)[rows - lo]

    # --------------------------------------------------------------------------------------- predict
    def predict(self, X, groups=None) -> np.ndarray:
        """Predictions (n_rows, n_targets) for a model fitted with :meth:`fit`."""
        return self.predict_subject(SINGLE, X, groups)

    def predict_subject(self, subject, X, groups=None) -> np.ndarray:
        """Predictions of ``subject``'s head for design rows ``X`` (time order within each run of ``groups``)."""
        if not hasattr(self, "model_"):
            raise EncoderNotFittedError(f"{type(self).__name__} is not fitted yet; call fit or fit_subjects first.")
        if subject not in self._data:
            raise BrainalignInputError(f"Unknown subject {subject!r}; the model was fitted on {self.subjects_}.")
        d = self._data[subject]
        X = check_rows(X, "X")
        if X.shape[1] != d.x_mean.size:
            raise BrainalignInputError(f"X has {X.shape[1]} columns but the model was fitted on {d.x_mean.size}.")
        g = group_labels(groups, X.shape[0])
        return self._predict_rows(self.model_, d, X, np.arange(X.shape[0]), g).astype(np.float32)


def _Inputs(x, pad):
    """(x, pad) passed to the model as one argument, so the training loop stays model-agnostic."""
    return (x, pad)

