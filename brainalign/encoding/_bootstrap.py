"""Paired circular block bootstrap of held-out rows: the machinery of the gain test."""

from __future__ import annotations

import numpy as np

#: keeps the (n_bootstraps, n_targets_batch) blocks of running sums at about this size
_BATCH_BYTES = 64 * 2**20


def draw_block_starts(n: int, block: int, n_bootstraps: int, rng: np.random.Generator) -> np.ndarray:
    """First rows of the ``ceil(n / block)`` blocks of each circular block-bootstrap resample.

    Resample ``b`` is rows ``starts[b, j], starts[b, j] + 1, ...`` (modulo ``n``)
    for ``block`` rows per block, the last block cut so that ``n`` rows are drawn
    in all; see :func:`block_resample_rows`.
    """
    return rng.integers(0, n, size=(n_bootstraps, -(-n // block)))


def block_resample_rows(n: int, block: int, starts: np.ndarray) -> np.ndarray:
    """Row indices (n_bootstraps, n) of the resamples described by ``starts``."""
    rows = starts[:, :, None] + np.arange(block)[None, None, :]
    return rows.reshape(starts.shape[0], -1)[:, :n] % n


def _resampled_sums(Z: np.ndarray, block: int, starts: np.ndarray) -> np.ndarray:
    """Column sums of ``Z`` (n, m) over the rows of every resample, shape (n_bootstraps, m).

    A resample is a union of blocks, so its sum is a sum of block sums (read off a
    circular cumulative sum): ``n_blocks`` gathers per resample instead of ``n``.
    """
    from scipy import sparse

    n = Z.shape[0]
    n_boot, n_blocks = starts.shape
    last = n - (n_blocks - 1) * block
    wrapped = Z[np.arange(n + block) % n]
    cum = np.concatenate([np.zeros((1, Z.shape[1])), np.cumsum(wrapped, axis=0)])
    full_sums = cum[np.arange(n) + block] - cum[:n]
    last_sums = cum[np.arange(n) + last] - cum[:n]

    def picks(cols):
        # (n_bootstraps, n) matrix counting how often each block start is drawn
        k = cols.shape[1]
        return sparse.csr_matrix((np.ones(n_boot * k), (np.repeat(np.arange(n_boot), k), cols.ravel())),
                                 shape=(n_boot, n))

    out = picks(starts[:, -1:]) @ last_sums
    if n_blocks > 1:
        out = out + picks(starts[:, :-1]) @ full_sums
    return np.asarray(out)


def _resampled_r(sums: dict, n: int, pred: str) -> np.ndarray:
    """Pearson r of y and a prediction on each resample, from the resampled sums."""
    sy, syy = sums["y"], sums["yy"]
    sp, spp, syp = sums[pred], sums[pred + pred], sums["y" + pred]
    cov = syp - sy * sp / n
    var = (syy - sy * sy / n) * (spp - sp * sp / n)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(var)
    return np.where(var > 1e-24, r, 0.0)


def bootstrap_fold_gains(Y: np.ndarray, pred_model: np.ndarray, pred_base: np.ndarray, folds,
                         block: int, n_bootstraps: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap distribution (n_bootstraps, n_targets) of the fold-averaged gain in test r.

    One set of resampled rows per fold, shared by both models and all targets.
    """
    from tqdm.auto import tqdm

    from .._logging import progress_disabled

    n_targets = Y.shape[1]
    starts = [draw_block_starts(test.size, block, n_bootstraps, rng) for test in folds]
    longest = max(max(test.size for test in folds) + block, n_bootstraps)
    batch = max(1, int(_BATCH_BYTES // (8 * 8 * 4 * longest)))
    gains = np.empty((n_bootstraps, n_targets))
    batches = range(0, n_targets, batch)
    for start in tqdm(batches, desc="gain bootstrap", disable=progress_disabled() or len(batches) < 2):
        cols = slice(start, min(n_targets, start + batch))
        width = cols.stop - cols.start
        total = np.zeros((n_bootstraps, width))
        for test, fold_starts in zip(folds, starts):
            # centred and scaled per fold so the running sums do not cancel catastrophically
            y = _standardize(Y[test, cols])
            m = _standardize(pred_model[test, cols])
            b = _standardize(pred_base[test, cols])
            names = ("y", "yy", "m", "mm", "ym", "b", "bb", "yb")
            Z = np.hstack([y, y * y, m, m * m, y * m, b, b * b, y * b])
            flat = _resampled_sums(Z, block, fold_starts)
            sums = {name: flat[:, i * width:(i + 1) * width] for i, name in enumerate(names)}
            total += _resampled_r(sums, test.size, "m") - _resampled_r(sums, test.size, "b")
        gains[:, cols] = total / len(folds)
    return gains


def _standardize(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    a = a - a.mean(0)
    scale = np.sqrt((a * a).mean(0))
    return a / np.where(scale > 0, scale, 1.0)
