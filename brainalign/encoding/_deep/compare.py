"""Per-target paired comparison of two encoders scored on the same folds ("deep vs linear")."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ...core import BrainalignInputError, EncodingResult, atomic_write_text
from .._bootstrap import bootstrap_fold_gains
from .._stats import fdr


def compare_encoders(result_a: EncodingResult, result_b: EncodingResult, Y, *, name_a: str = "deep",
                     name_b: str = "linear", n_bootstraps: int = 1000, block_s: float | None = None,
                     sampling_period: float | None = None, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per target: held-out r of model A minus model B, with a paired block-bootstrap CI, p and FDR.

    Both results must hold predictions on the *same* outer folds
    (``return_predictions=True`` in :func:`~brainalign.encoding.cross_validate`
    or :func:`~brainalign.encoding.cross_validate_subjects`).  The test rows of
    every fold are resampled in circular blocks of ``block_s`` seconds (default
    20 s, one haemodynamic response) and both r's are recomputed on the same
    rows (the method of :func:`~brainalign.encoding.gain_over_baseline_test`).
    ``p`` is two-sided (either model may be ahead); ``p_fdr`` is
    Benjamini-Hochberg over targets.

    Returns
    -------
    pandas.DataFrame
        The tidy "model A vs model B per target" table of :mod:`brainalign.report`:
        ``model_a, model_b, target, r_a, r_b, difference, ci_low, ci_high, p, p_fdr``
        (write it with :func:`write_model_comparison` for the report's section).
    """
    for name, res in ((name_a, result_a), (name_b, result_b)):
        if getattr(res, "predictions", None) is None or getattr(res, "folds", None) is None:
            raise BrainalignInputError(
                f"The {name!r} result has no held-out predictions; fit it with return_predictions=True.")
    if len(result_a.folds) != len(result_b.folds) or any(
            a.shape != b.shape or np.any(a != b) for a, b in zip(result_a.folds, result_b.folds)):
        raise BrainalignInputError("The two results were scored on different folds; use the same cv and gap.")
    Y = np.asarray(Y, dtype=np.float64)
    period = float(sampling_period or 1.0)
    block = max(1, int(math.ceil((20.0 if block_s is None else float(block_s)) / period - 1e-9)))
    diffs = bootstrap_fold_gains(Y, result_a.predictions, result_b.predictions, list(result_a.folds), block,
                                 int(n_bootstraps), np.random.default_rng(seed))
    q = (1.0 - ci) / 2.0
    below = (1.0 + (diffs <= 0).sum(0)) / (1.0 + diffs.shape[0])
    above = (1.0 + (diffs >= 0).sum(0)) / (1.0 + diffs.shape[0])
    p = np.minimum(1.0, 2 * np.minimum(below, above))
    r_a, r_b = result_a.r.mean(0), result_b.r.mean(0)
    table = pd.DataFrame({"model_a": name_a, "model_b": name_b, "target": list(result_a.target_names),
                          "r_a": r_a, "r_b": r_b, "difference": r_a - r_b,
                          "ci_low": np.quantile(diffs, q, axis=0), "ci_high": np.quantile(diffs, 1.0 - q, axis=0),
                          "p": p, "p_fdr": fdr(p)})
    table.attrs.update({"n_bootstraps": int(n_bootstraps), "block_samples": block, "ci": float(ci),
                        "method": "paired circular block bootstrap of test rows within each outer fold"})
    return table


def write_model_comparison(table: pd.DataFrame, results_dir, name: str = "deep_vs_linear") -> Path:
    """Write ``table`` as ``tables/model_comparison_{name}.tsv`` (atomically): the report pages then show it
    as a "Model A vs model B per target" section (:func:`brainalign.report.write_report`)."""
    path = Path(results_dir) / "tables" / f"model_comparison_{name}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, table.to_csv(sep="\t", index=False))
    return path


#: subjects needed before compare_fold_scores resamples whole subjects
MIN_SUBJECTS = 5


def compare_fold_scores(scores_a: pd.DataFrame, scores_b: pd.DataFrame, *, name_a: str = "deep",
                        name_b: str = "linear", n_bootstraps: int = 2000, ci: float = 0.95,
                        seed: int = 0) -> pd.DataFrame:
    """Per layer and target: mean per-fold r of model A minus model B from two tidy score tables.

    For two studies (or sweeps) run on the same recordings, features and folds
    with different estimators (e.g. ``estimator = "transformer"`` and the
    default ridge): ``scores_a`` / ``scores_b`` are their per-fold tables
    (columns ``subject, layer, target, fold, r``: each sweep's ``scores.tsv``
    concatenated).  Rows are paired on (subject, layer, target, fold); the
    interval resamples subjects (all folds of a subject together) when there
    are at least 5, else (subject, fold) pairs; ``p`` is two-sided, ``p_fdr`` is
    Benjamini-Hochberg over all rows.  Without held-out predictions this is
    coarser than :func:`compare_encoders` (which resamples test rows).

    Returns
    -------
    pandas.DataFrame
        ``model_a, model_b, layer, target, r_a, r_b, difference, ci_low, ci_high, p, p_fdr, n_subjects``.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"subject": ["s1"] * 4, "layer": "l", "target": ["t"] * 4, "fold": range(4),
    ...                   "r": [0.3, 0.4, 0.35, 0.45]})
    >>> b = a.assign(r=a["r"] - 0.1)
    >>> compare_fold_scores(a, b, n_bootstraps=200)[["difference", "ci_low"]].round(3).values.tolist()
    [[0.1, 0.1]]
    """
    keys = ["subject", "layer", "target", "fold"]
    for name, frame in ((name_a, scores_a), (name_b, scores_b)):
        missing = sorted(set(keys + ["r"]) - set(frame.columns))
        if missing:
            raise BrainalignInputError(f"The {name!r} score table lacks columns {missing}; pass per-fold scores "
                                       "(each sweep's scores.tsv).")
    pairs = scores_a[keys + ["r"]].merge(scores_b[keys + ["r"]], on=keys, suffixes=("_a", "_b"))
    if pairs.empty:
        raise BrainalignInputError("The two score tables share no (subject, layer, target, fold); "
                                   "compare runs on the same recordings, layers and folds.")
    rng = np.random.default_rng(seed)
    q = (1.0 - ci) / 2.0
    rows = []
    for (layer, target), group in pairs.groupby(["layer", "target"], sort=False):
        diff = group["r_a"].to_numpy() - group["r_b"].to_numpy()
        # fewer than MIN_SUBJECTS subjects give too few distinct resamples: then (subject, fold) pairs are the units
        by_subject = group["subject"].nunique() >= MIN_SUBJECTS
        units = (group["subject"] if by_subject else group["subject"] + "#" + group["fold"].astype(str)).to_numpy()
        labels, index = np.unique(units, return_inverse=True)
        sums = np.bincount(index, weights=diff, minlength=labels.size)
        counts = np.bincount(index, minlength=labels.size)
        draws = rng.integers(0, labels.size, size=(int(n_bootstraps), labels.size))
        boot = sums[draws].sum(1) / counts[draws].sum(1)
        p = min(1.0, 2 * min((1 + (boot <= 0).sum()) / (1 + boot.size), (1 + (boot >= 0).sum()) / (1 + boot.size)))
        rows.append({"model_a": name_a, "model_b": name_b, "layer": layer, "target": target,
                     "r_a": group["r_a"].mean(), "r_b": group["r_b"].mean(), "difference": diff.mean(),
                     "ci_low": np.quantile(boot, q), "ci_high": np.quantile(boot, 1 - q), "p": p,
                     "n_subjects": int(group["subject"].nunique())})
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("p") + 1, "p_fdr", fdr(table["p"].to_numpy()))
    return table
