"""Readouts of a frozen vision model's spatial tokens: attention (learned queries) and factorized.

:class:`AttentionReadoutEncoder` re-implements, from the paper's description
(Adeli, Sun & Kriegeskorte 2025; their code is GPL-3 and not used here), a
readout in which learned queries (one per target, or one per ROI shared by its
targets) cross-attend to the patch tokens of each image; the attention
weights are *routing maps* saying which patches a target reads.
:class:`FactorizedReadoutEncoder` is the comparison: one fixed spatial mask
times one feature weight vector per target.

The design ``X`` holds the tokens flattened token-major: column
``token * C + channel`` with tokens row-major on an ``H x W`` grid, given by
``token_grid=(H, W, C)`` or the band metadata ``{"token_grid": [H, W, C]}``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ...core import BrainalignInputError
from .._sklearn_api import EncoderNotFittedError
from ._bands import resolve_bands
from ._bands import SINGLE
from .training import (
    Checkpointer,
    TorchDevice,
    TrainConfig,
    check_rows,
    fingerprint,
    group_labels,
    inner_validation_split,
    per_target_r,
    row_batches,
    streamed_moments,
    train,
)


class _TokenReadoutEncoder(BaseEstimator):
    """What both readouts share: token grid, standardisation, inner split, training, prediction."""

    def _grid(self, bands, n_features):
        grid = self.token_grid
        if grid is None and bands is not None:
            specs = resolve_bands(bands, None, n_features, type(self).__name__)
            grids = [b.metadata.get("token_grid") for b in specs if b.metadata.get("token_grid")]
            grid = grids[0] if grids else None
        if grid is None or len(grid) != 3:
            raise BrainalignInputError(
                f"{type(self).__name__} needs the token grid (H, W, C): pass token_grid=(H, W, C) or a band with "
                "metadata['token_grid'] (features extracted with pooling='tokens')."
            )
        h, w, c = (int(v) for v in grid)
        if h * w * c != n_features:
            raise BrainalignInputError(f"token_grid {grid} holds {h * w * c} values but X has {n_features} columns.")
        return h, w, c

    def fit(self, X, Y, *, bands=None, groups=None, gap=0):
        X = check_rows(X, "X")
        Y = check_rows(Y if np.ndim(Y) != 1 else np.asarray(Y)[:, None], "Y", X.shape[0])
        self.grid_ = self._grid(bands, X.shape[1])
        g = group_labels(groups, X.shape[0])
        tr, va = inner_validation_split(g, int(gap), self.val_fraction)
        # tokens share one scaling per channel (over images and positions), so a position keeps its meaning
        x_mean, x_std = streamed_moments(X, tr)
        h, w, c = self.grid_
        mean_c = x_mean.reshape(h * w, c).mean(0)
        var_c = (x_std.reshape(h * w, c) ** 2 + x_mean.reshape(h * w, c) ** 2).mean(0) - mean_c ** 2
        self.x_mean_ = np.tile(mean_c, h * w).astype(np.float32)
        self.x_scale_ = np.tile(np.sqrt(np.maximum(var_c, 1e-12)), h * w).astype(np.float32)
        self.y_mean_, self.y_scale_ = streamed_moments(Y, tr)
        import torch

        self.device_ = TorchDevice.resolve(self.device)
        torch.manual_seed(int(self.random_state))
        model = self._build(h * w, c, Y.shape[1])
        params = {k: v for k, v in self.get_params().items() if k not in ("checkpoint_dir", "device")}
        # hashing the data is a full pass over it: only when a checkpoint is kept
        data_key = None if self.checkpoint_dir is None else fingerprint(X, Y, g)
        ckpt = Checkpointer(self.checkpoint_dir, {"estimator": type(self).__name__, "params": params,
                                                  "gap": int(gap), "data": data_key})
        bs = int(self.batch_size)

        def batches(rng):
            for idx in row_batches(tr.size, bs, rng):
                rows = tr[idx]
                yield (self._x(X, rows), self.device_.put(self._y(Y, rows)), None, SINGLE)

        def validate(net):
            return {SINGLE: per_target_r(np.asarray(Y[va], dtype=np.float64), self._predict(net, X, va))}

        config = TrainConfig(int(self.max_epochs), float(self.lr), float(self.weight_decay), 1.0, 0.9,
                             int(self.patience), int(self.random_state))
        record = train(model, batches, -(-tr.size // bs), validate, config, self.device_, ckpt,
                       desc=type(self).__name__)
        self.model_ = model
        self.validation_r_ = np.asarray(record["validation_r"][SINGLE])
        self.validation_rows_ = va
        self.history_ = record["history"]
        self.fit_info_ = {"validation_r": self.validation_r_, "best_epoch": record["best_epoch"],
                          "epochs_run": record["epoch"], "history": record["history"],
                          "checkpoint": None if ckpt.path is None else str(ckpt.path)}
        return self

    def _x(self, X, rows):
        return self.device_.put(((np.asarray(X[rows], dtype=np.float32) - self.x_mean_) / self.x_scale_))

    def _y(self, Y, rows) -> np.ndarray:
        return ((np.asarray(Y[rows], dtype=np.float32) - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _predict(self, net, X, rows) -> np.ndarray:
        import torch

        out = []
        net.eval()
        with torch.no_grad():
            for idx in row_batches(rows.size, 256):
                with self.device_.autocast():
                    out.append(net(self._x(X, rows[idx])).float().cpu().numpy())
        return np.concatenate(out) * self.y_scale_ + self.y_mean_

    def predict(self, X) -> np.ndarray:
        """Predictions (n_images, n_targets)."""
        if not hasattr(self, "model_"):
            raise EncoderNotFittedError(f"{type(self).__name__} is not fitted yet; call fit first.")
        X = check_rows(X, "X")
        if X.shape[1] != self.x_mean_.size:
            raise BrainalignInputError(f"X has {X.shape[1]} columns but the readout was fitted on {self.x_mean_.size}.")
        return self._predict(self.model_, X, np.arange(X.shape[0])).astype(np.float32)


class AttentionReadoutEncoder(_TokenReadoutEncoder):
    """Learned queries cross-attending to patch tokens; attention weights are routing maps.

    Parameters
    ----------
    token_grid : (H, W, C) or None
        Token grid of ``X``'s columns (else from the band metadata ``token_grid``).
    query_groups : sequence or None
        A label per target (e.g. its ROI): targets with one label share a query
        (one routing map per ROI); ``None`` = one query per target.
    dim : int
        Width of keys, queries and values.
    max_epochs, patience, batch_size : int
    lr, weight_decay : float
    val_fraction : float
        Last fraction of the training rows (after ``gap`` rows) used to choose the epoch.
    random_state : int
        Seed of the initial weights, batch order and dropout (``cross_validate`` passes its ``seed``).
    device : {"auto", "cpu", "cuda"}
    checkpoint_dir : path or None

    Attributes
    ----------
    routing_maps_ : ndarray (n_queries, H, W)
        Mean attention of each query over the training images (one figure panel per ROI:
        :func:`brainalign.plotting.plot_routing_maps`).
    query_labels_ : list
    validation_r_ : ndarray (n_targets,)

    Examples
    --------
    >>> from brainalign.simulation import simulate_routed_tokens
    >>> sim = simulate_routed_tokens(n_images=200, n_targets=2)
    >>> enc = AttentionReadoutEncoder(token_grid=sim.grid, max_epochs=2).fit(sim.X, sim.Y)
    >>> enc.routing_maps(sim.X[:3]).shape
    (3, 2, 4, 4)
    """

    def __init__(self, *, token_grid=None, query_groups=None, dim=32, max_epochs=40, patience=6, batch_size=64,
                 lr=3e-3, weight_decay=1e-3, val_fraction=0.2, random_state=0, device="auto",
                 checkpoint_dir=None):
        self.token_grid = token_grid
        self.query_groups = query_groups
        self.dim = dim
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.device = device
        self.checkpoint_dir = checkpoint_dir

    def _build(self, n_tokens, n_channels, n_targets):
        if self.query_groups is None:
            labels, index = list(range(n_targets)), np.arange(n_targets)
        else:
            groups = np.asarray(self.query_groups)
            if groups.shape != (n_targets,):
                raise BrainalignInputError(
                    f"query_groups needs one label per target ({n_targets}), got shape {groups.shape}.")
            labels, index = np.unique(groups, return_inverse=True)
            labels = labels.tolist()
        self.query_labels_ = labels
        from .networks import AttentionReadout

        return AttentionReadout(n_tokens, n_channels, len(labels), index, int(self.dim))

    def fit(self, X, Y, *, bands=None, groups=None, gap=0) -> "AttentionReadoutEncoder":
        super().fit(X, Y, bands=bands, groups=groups, gap=gap)
        self.routing_maps_ = self.routing_maps(X).mean(0)
        return self

    def routing_maps(self, X) -> np.ndarray:
        """Attention of each query over the token grid, per image: (n_images, n_queries, H, W)."""
        if not hasattr(self, "model_"):
            raise EncoderNotFittedError("AttentionReadoutEncoder is not fitted yet; call fit first.")
        X = check_rows(X, "X")
        import torch

        h, w, _ = self.grid_
        out = []
        with torch.no_grad():
            for idx in row_batches(X.shape[0], 256):
                attn, _ = self.model_.attention(self._x(X, idx))
                out.append(attn.float().cpu().numpy())
        return np.concatenate(out).reshape(X.shape[0], -1, h, w)


class FactorizedReadoutEncoder(_TokenReadoutEncoder):
    """Spatial mask x feature weights per target (the comparison for :class:`AttentionReadoutEncoder`).

    Prediction of target ``j``: ``sum_t mask_j[t] * (tokens[t] @ w_j) + b_j``.
    Parameters as :class:`AttentionReadoutEncoder` (no queries).

    Examples
    --------
    >>> from brainalign.simulation import simulate_routed_tokens
    >>> sim = simulate_routed_tokens(n_images=200, n_targets=2)
    >>> FactorizedReadoutEncoder(token_grid=sim.grid, max_epochs=2).fit(sim.X, sim.Y).predict(sim.X).shape
    (200, 2)
    """

    def __init__(self, *, token_grid=None, max_epochs=40, patience=6, batch_size=64, lr=3e-3, weight_decay=1e-3,
                 val_fraction=0.2, random_state=0, device="auto", checkpoint_dir=None):
        self.token_grid = token_grid
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.device = device
        self.checkpoint_dir = checkpoint_dir

    def _build(self, n_tokens, n_channels, n_targets):
        from .networks import FactorizedReadout

        return FactorizedReadout(n_tokens, n_channels, n_targets)

    @property
    def spatial_masks_(self) -> np.ndarray:
        """Fitted spatial masks (n_targets, H, W)."""
        h, w, _ = self.grid_
        return self.model_.mask.detach().cpu().numpy().reshape(-1, h, w)
