"""The best level of a categorical axis per target: one argmax for layers, instructions, models ..."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import BrainalignInputError

__all__ = ["BestLevel", "best_level"]


class BestLevel(NamedTuple):
    """Per target: ``index`` of the best level (-1 where every score is NaN), its ``score``, the
    ``runner_up`` index (-1 with a single level) and the ``margin`` (best minus runner-up score)."""

    index: np.ndarray
    score: np.ndarray
    runner_up: np.ndarray
    margin: np.ndarray

    def map_values(self) -> np.ndarray:
        """Values of a best-level map: 1-based level index, 0 where the best score is not above zero."""
        return np.where(np.nan_to_num(self.score, nan=0.0) > 0, self.index + 1, 0).astype(np.float32)


def best_level(scores) -> BestLevel:
    """Argmax over the levels (rows) of a ``(n_levels, n_targets)`` score matrix, ties to the first level.

    NaN scores never win (a level without a score for a target is skipped); a
    target whose scores are all NaN gets index -1 and a NaN score.  This is
    the one argmax behind best-layer maps (:meth:`LayerSweep.to_image`), the
    best level of any feature-key axis
    (:func:`brainalign.features.best_per_target`) and a study's
    best-instruction maps.

    Examples
    --------
    >>> best = best_level([[0.1, 0.5, np.nan], [0.3, 0.2, np.nan]])
    >>> best.index.tolist(), best.runner_up.tolist(), np.round(best.margin, 2).tolist()
    ([1, 0, -1], [0, 1, -1], [0.2, 0.3, nan])
    """
    S = np.asarray(scores, dtype=np.float64)
    if S.ndim == 1:
        S = S[:, None]
    if S.ndim != 2 or S.shape[0] == 0:
        raise BrainalignInputError(f"best_level needs a (n_levels, n_targets) score matrix, got shape {S.shape}.")
    filled = np.where(np.isnan(S), -np.inf, S)
    order = np.argsort(-filled, axis=0, kind="stable")  # stable: ties go to the first level
    cols = np.arange(S.shape[1])
    index = order[0].copy()
    score = S[index, cols]
    index[np.isnan(score)] = -1
    if S.shape[0] > 1:
        runner = order[1].copy()
        second = S[runner, cols]
        runner[np.isnan(second)] = -1
        margin = score - second
    else:
        runner, margin = np.full(S.shape[1], -1), np.full(S.shape[1], np.nan)
    return BestLevel(index, score, runner, margin)
