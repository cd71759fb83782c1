"""Per-target paired comparison of two encoders scored on the same folds ("deep vs linear")."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...core import BrainalignInputError, EncodingResult
from .._gain import bootstrap_fold_gains
from .._stats import fdr


def compare_encoders(linear: EncodingResult, deep: EncodingResult, Y, *, n_bootstraps: int = 1000,
                     block_s: float | None = None, sampling_period: float | None = None, ci: float = 0.95,
                     seed: int = 0) -> pd.DataFrame:
    """Per target: the difference in held-out r of ``deep`` over ``linear``, paired block-bootstrap CI, p, FDR.

    Both results must hold predictions on the *same* outer folds
    (``return_predictions=True`` in :func:`~brainalign.encoding.cross_validate`,
    or :func:`~brainalign.encoding.cross_validate_subjects`).  The test rows of
    every fold are resampled in circular blocks of ``block_s`` seconds (default
    20 s, one haemodynamic response) and both r's are recomputed on the same
    rows (the method of :func:`~brainalign.encoding.gain_over_baseline_test`).
    ``p`` is two-sided (either model may be ahead); ``p_fdr`` is
    Benjamini-Hochberg over targets.

    Returns
    -------
    pandas.DataFrame
        ``target, r_linear, r_deep, diff, ci_low, ci_high, p, p_fdr`` (``diff`` = deep - linear).
    """
    for name, res in (("linear", linear), ("deep", deep)):
        if getattr(res, "predictions", None) is None or getattr(res, "folds", None) is None:
            raise BrainalignInputError(
                f"The {name} result has no held-out predictions; fit it with return_predictions=True.")
    if len(linear.folds) != len(deep.folds) or any(
            a.shape != b.shape or np.any(a != b) for a, b in zip(linear.folds, deep.folds)):
        raise BrainalignInputError("The two results were scored on different folds; use the same cv and gap.")
    Y = np.asarray(Y, dtype=np.float64)
    period = float(sampling_period or 1.0)
    block = max(1, int(math.ceil((20.0 if block_s is None else float(block_s)) / period - 1e-9)))
    gains = bootstrap_fold_gains(Y, deep.predictions, linear.predictions, list(linear.folds), block,
                                 int(n_bootstraps), np.random.default_rng(seed))
    q = (1.0 - ci) / 2.0
    below = (1.0 + (gains <= 0).sum(0)) / (1.0 + gains.shape[0])
    above = (1.0 + (gains >= 0).sum(0)) / (1.0 + gains.shape[0])
    p = np.minimum(1.0, 2 * np.minimum(below, above))
    r_lin, r_deep = linear.r.mean(0), deep.r.mean(0)
    table = pd.DataFrame({"target": list(linear.target_names), "r_linear": r_lin, "r_deep": r_deep,
                          "diff": r_deep - r_lin, "ci_low": np.quantile(gains, q, axis=0),
                          "ci_high": np.quantile(gains, 1.0 - q, axis=0), "p": p, "p_fdr": fdr(p)})
    table.attrs.update({"n_bootstraps": int(n_bootstraps), "block_samples": block, "ci": float(ci),
                        "method": "paired circular block bootstrap of test rows within each outer fold"})
    return table
