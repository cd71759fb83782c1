"""Model comparison per target: which of several encoding models predicts a target better, with FDR.

The statistic of Subramaniam et al. (2024, "Revealing vision-language
integration in the brain"): every model is cross-validated on the same outer
folds; per target, the difference in fold-averaged test r between two models
gets a paired block-bootstrap distribution whose resampled rows are drawn
*once* and shared by every model and every comparison of the set; p-values are
Benjamini-Hochberg corrected within each comparison; composite criteria (a
multimodal model beating every unimodal model and their linear combination)
are conjunctions of those per-comparison decisions.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, DesignMatrix, EncodingResult, Recording, atomic_write_text, save_json
# the gain test's circular block bootstrap (same draws, block-sum trick), for any number of models
from ._bootstrap import _resampled_sums, _standardize, draw_block_starts
from ._crossval import cross_validate, default_gap_s
from ._stats import fdr

logger = logging.getLogger("brainalign.encoding")

#: keeps the bootstrap's (n_bootstraps, n_targets_batch) arrays at about this size
_BATCH_BYTES = 64 * 2**20
#: columns of the tidy comparison table (the report's "model A vs B per target" section reads them)
COMPARISON_COLUMNS = ("model_a", "model_b", "target", "r_a", "r_b", "difference", "ci_low", "ci_high", "p",
                      "p_fdr")


def cross_validate_models(
    designs: Mapping[str, DesignMatrix],
    recording: Recording,
    *,
    combinations: Mapping[str, Sequence[str]] | None = None,
    combination_estimator: str = "banded",
    gap_s: float | None = None,
    seed: int = 0,
    **cv_kwargs,
) -> dict[str, EncodingResult]:
    """Cross-validate several designs on the same outer folds, keeping their test predictions.

    Parameters
    ----------
    designs : mapping of str to DesignMatrix or ndarray
        One design per model (e.g. ``{"clip": ..., "vit": ..., "bert": ...}``).
    recording : Recording
    combinations : mapping of str to list of str, optional
        Linear combinations of models, e.g. ``{"vit+bert": ["vit", "bert"]}``:
        the designs are stacked column-wise and fitted with
        ``combination_estimator`` (default :class:`BandedRidgeEncoder`, one
        penalty per model) so the combination is the best *linear* mixture of
        the unimodal features, the control a multimodal model must beat.
    gap_s : float or None
        Shared by all fits (default: the largest default gap of the designs), so
        that every model is tested on the same folds.
    seed : int
    **cv_kwargs
        Passed to :func:`cross_validate` (alphas, cv, backend, ...).

    Returns
    -------
    dict of str to EncodingResult
        With ``predictions`` and ``folds`` attributes, ready for :func:`compare_models`.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Recording
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    >>> rec = Recording(a @ np.ones((3, 2)) + rng.normal(size=(300, 2)), sampling_period=1.0)
    >>> res = cross_validate_models({"a": a, "b": b}, rec, combinations={"a+b": ["a", "b"]}, backend="numpy")
    >>> sorted(res), res["a"].predictions.shape
    (['a', 'a+b', 'b'], (300, 2))
    """
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    if not designs:
        raise BrainalignInputError("designs is empty; pass at least two models, e.g. {'clip': X1, 'vit': X2}.")
    for key in ("return_predictions", "shuffle"):
        if cv_kwargs.get(key):
            raise BrainalignInputError(
                f"{key} cannot be set for a model comparison: predictions are always kept and test folds "
                "must be contiguous for the block bootstrap."
            )
    checked: dict[str, DesignMatrix] = {}
    for name, d in designs.items():
        if isinstance(d, DesignMatrix):
            X = d
        else:
            arr = np.asarray(d, dtype=float)
            if arr.ndim != 2 or arr.shape[0] != recording.n_samples:
                raise BrainalignInputError(
                    f"design {name!r} has shape {arr.shape}; it needs one row per recording sample "
                    f"({recording.n_samples})."
                )
            X = DesignMatrix(arr, recording.runs, recording.sampling_period, name=str(name))
        X.check_matches(recording)
        checked[str(name)] = X
    combos = {}
    for name, parts in (combinations or {}).items():
        if isinstance(parts, str) or len(parts) < 2:
            raise BrainalignInputError(f"combination {name!r} must list at least two models, got {parts!r}.")
        missing = [p for p in parts if p not in checked]
        if missing:
            raise BrainalignInputError(
                f"combination {name!r} names {missing}, which are not among the designs {sorted(checked)}."
            )
        if name in checked:
            raise BrainalignInputError(f"combination {name!r} has the name of a design; rename it.")
        combos[str(name)] = DesignMatrix.stack([checked[p] for p in parts], name=str(name))
    if gap_s is None:
        gap_s = max(default_gap_s(d, recording) for d in checked.values())
    results = {}
    for name, d in {**checked, **combos}.items():
        kwargs = dict(cv_kwargs, gap_s=gap_s, seed=seed, return_predictions=True)
        if name in combos:
            kwargs["estimator"] = combination_estimator
        logger.info("Model comparison: cross-validating %s", name)
        results[name] = cross_validate(d, recording, model=name, **kwargs)
    return results


def _resampled_corr(sums_y: np.ndarray, sums_p: np.ndarray, n: int) -> np.ndarray:
    """Pearson r on every resample from resampled sums: ``sums_y`` = [y, yy], ``sums_p`` = [p, pp, yp] blocks."""
    m = sums_y.shape[1] // 2
    sy, syy = sums_y[:, :m], sums_y[:, m:]
    sp, spp, syp = sums_p[:, :m], sums_p[:, m:2 * m], sums_p[:, 2 * m:]
    cov = syp - sy * sp / n
    var = (syy - sy * sy / n) * (spp - sp * sp / n)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(var)
    return np.where(var > 1e-24, r, 0.0)


def bootstrap_model_scores(Y: np.ndarray, predictions: Mapping[str, np.ndarray], folds, block: int,
                           n_bootstraps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Bootstrap distributions (n_bootstraps, n_targets) of each model's fold-averaged test r.

    The resampled rows of every fold are drawn once and shared by all models and
    targets, so differences between any two models are paired.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(100, 2))
    >>> dist = bootstrap_model_scores(Y, {"a": Y + rng.normal(size=(100, 2)), "b": rng.normal(size=(100, 2))},
    ...                               [np.arange(50), np.arange(50, 100)], block=5, n_bootstraps=200)
    >>> bool(dist["a"].mean() > dist["b"].mean() + 0.4)
    True
    """
    rng = np.random.default_rng(seed)
    names = list(predictions)
    out = {m: np.zeros((int(n_bootstraps), Y.shape[1])) for m in names}
    for test in folds:
        test = np.asarray(test)
        starts = draw_block_starts(test.size, block, int(n_bootstraps), rng)
        y = _standardize(Y[test])
        # a resample's sums are sums of block sums: n_blocks gathers per resample instead of n rows
        sums_y = _resampled_sums(np.hstack([y, y * y]), block, starts)
        for m in names:
            p = _standardize(predictions[m][test])
            sums_p = _resampled_sums(np.hstack([p, p * p, y * p]), block, starts)
            out[m] += _resampled_corr(sums_y, sums_p, test.size)
    return {m: v / len(folds) for m, v in out.items()}


def compare_models(
    results: Mapping[str, EncodingResult],
    recording: Recording,
    comparisons: Sequence[tuple[str, str]] | None = None,
    *,
    criteria: Mapping[str, Mapping] | None = None,
    n_bootstraps: int = 1000,
    block_s: float | None = None,
    ci: float = 0.95,
    seed: int = 0,
    resample: str = "rows",
    alternative: str = "two-sided",
    fold_spread: bool = True,
) -> pd.DataFrame:
    """Paired block-bootstrap comparison of models per target, BH-FDR within each comparison.

    Method.  The models' cross-validated test predictions (from
    :func:`cross_validate_models`, or :func:`cross_validate` with
    ``return_predictions=True`` on identical folds) are kept fixed; within every
    outer test fold the rows are resampled as a circular block bootstrap
    (blocks of ``block_s`` seconds), the resamples drawn **once** and reused for
    every model, so the bootstrap distributions of all comparisons of the set
    are paired and mutually consistent (a composite criterion evaluates its
    comparisons on the same resamples).  For a comparison ``(a, b)`` and a
    target, ``difference`` is the fold-averaged test r of ``a`` minus that of
    ``b``; ``ci_low``/``ci_high`` the percentile interval; ``p`` the
    two-sided p-value of "no difference" (twice the smaller bootstrap tail,
    so ``a`` wins where ``ci_low > 0`` and ``p_fdr < alpha`` and ``b`` where
    ``ci_high < 0``, as :func:`brainalign.report.model_comparison_summary`
    reads it) or, with ``alternative="greater"``, the one-sided p of
    "``a`` is not better" (``(1 + #{boot <= 0}) / (1 + B)``); ``p_fdr``
    Benjamini-Hochberg across the targets of that comparison.

    Parameters
    ----------
    results : mapping of str to EncodingResult
        Each with ``predictions`` (n_samples, n_targets) and ``folds``.
    recording : Recording
        The recording the models were scored on.
    comparisons : list of (str, str), optional
        Ordered pairs ``(a, b)`` testing "a beats b".  Default: every ordered
        pair needed by ``criteria``, or all ordered pairs when there are none.
    criteria : mapping, optional
        Composite criteria, e.g. ``{"integration": {"multimodal": "clip",
        "against": ["vit", "bert", "vit+bert"]}}`` (key ``winner`` works as well as
        ``multimodal``; ``alpha`` defaults to 0.05).  Their comparisons are added
        and :func:`composite_sites` evaluates them (``table.attrs["criteria"]``).
    n_bootstraps : int
    block_s : float or None
        Block length in seconds; default the gap recorded in the results'
        config (the span of history samples share), else 1 s.
    ci : float
    seed : int
    resample : {"rows", "folds"}
        ``"rows"`` (default): the block bootstrap of test rows above, from
        the predictions.  ``"folds"``: from per-fold scores only (results
        without predictions, e.g. read back from a results folder): a paired
        t-test of the per-fold differences and its t interval
        (folds are disjoint test sets).  Coarse with few folds; meant for
        leave-one-run-out over many runs (null false-positive rate 0.053 over
        2000 null targets with 12 folds, where a percentile bootstrap of the
        12 folds gave 0.082).

    alternative : {"two-sided", "greater"}
        The p-value's alternative (see Method).
    fold_spread : bool
        ``resample="rows"``: where the standard error of the difference over
        the outer folds (``sd(d_k) / sqrt(K)``, which includes refitting the
        models on other training rows) is larger than the bootstrap's (test
        rows only), widen that target's bootstrap distribution about its
        centre to match.  On null simulations (600 samples, 5 folds) this took
        the false-positive rate from 0.071 to 0.053 (two-sided) for a small
        loss of power (see ``benchmarks/model_comparison_calibration.py``).

    Returns
    -------
    pandas.DataFrame
        The tidy table, columns :data:`COMPARISON_COLUMNS`, one row per
        comparison and target.  ``attrs`` hold the configuration.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Recording
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(400, 3)), rng.normal(size=(400, 3))
    >>> rec = Recording(a @ np.ones((3, 2)) + 3 * rng.normal(size=(400, 2)), sampling_period=1.0)
    >>> res = cross_validate_models({"a": a, "b": b}, rec, backend="numpy")
    >>> table = compare_models(res, rec, [("a", "b")], n_bootstraps=200)
    >>> table["p_fdr"].lt(0.05).tolist()
    [True, True]
    """
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    if isinstance(n_bootstraps, bool) or not isinstance(n_bootstraps, (int, np.integer)) or n_bootstraps < 1:
        raise BrainalignInputError(f"n_bootstraps must be a positive int, got {n_bootstraps!r}.")
    if not 0 < ci < 1:
        raise BrainalignInputError(f"ci must be a coverage in (0, 1), e.g. 0.95, got {ci!r}.")
    names = list(results)
    if len(names) < 2:
        raise BrainalignInputError(f"compare_models needs at least two models, got {names}.")
    parsed = {name: _parse_criterion(name, spec, names) for name, spec in (criteria or {}).items()}
    pairs = [tuple(map(str, c)) for c in (comparisons or [])]
    for crit in parsed.values():
        pairs += [(crit["winner"], other) for other in crit["against"]]
    if not pairs:
        pairs = [(a, b) for a in names for b in names if a != b]
    pairs = list(dict.fromkeys(pairs))
    for a, b in pairs:
        for m in (a, b):
            if m not in results:
                raise BrainalignInputError(f"comparison ({a!r}, {b!r}) names {m!r}, not among the models {names}.")
        if a == b:
            raise BrainalignInputError(f"comparison ({a!r}, {b!r}) compares a model with itself.")
    if alternative not in ("two-sided", "greater"):
        raise BrainalignInputError(f"alternative={alternative!r} must be 'two-sided' or 'greater'.")
    used = list(dict.fromkeys(m for pair in pairs for m in pair))
    if resample == "rows":
        folds, block_s, block = _row_bootstrap_setup({m: results[m] for m in used}, recording, block_s)
        n_folds = len(folds)
    elif resample == "folds":
        n_folds = _check_fold_scores({m: results[m] for m in used}, recording)
        block = None
    else:
        raise BrainalignInputError(f"resample={resample!r} must be 'rows' (test rows) or 'folds' (per-fold scores).")
    q = (1.0 - ci) / 2.0
    n_targets = recording.n_targets
    stats = {pair: tuple(np.empty(n_targets) for _ in range(3)) for pair in pairs}
    if resample == "rows":
        from tqdm.auto import tqdm

        from .._logging import progress_disabled

        # targets in batches: the bootstrap holds (n_bootstraps, batch) arrays per model and running sum;
        # every batch redraws the same resamples from the same seed, so all targets share them
        batch = max(1, int(_BATCH_BYTES // (8 * int(n_bootstraps) * (len(used) + 6))))
        Y = np.asarray(recording.data)
        starts = range(0, n_targets, batch)
        for start in tqdm(starts, desc="model comparison", disable=progress_disabled() or len(starts) < 2):
            cols = slice(start, min(n_targets, start + batch))
            boot = bootstrap_model_scores(Y[:, cols], {m: results[m].predictions[:, cols] for m in used}, folds,
                                          block, int(n_bootstraps), seed)
            for pair, values in _bootstrap_pair_stats(pairs, q, alternative, fold_spread, boot, results,
                                                      cols).items():
                for dest, value in zip(stats[pair], values):
                    dest[cols] = value
    else:
        for a, b in pairs:
            stats[(a, b)] = _paired_t(results[a].r - results[b].r, ci, alternative)
    frames = []
    for a, b in pairs:
        r_a, r_b = results[a].r.mean(0), results[b].r.mean(0)
        p, low, high = stats[(a, b)]
        frames.append(pd.DataFrame({
            "model_a": a, "model_b": b, "target": recording.target_names, "r_a": r_a, "r_b": r_b,
            "difference": r_a - r_b, "ci_low": low, "ci_high": high, "p": p, "p_fdr": fdr(p),
        }))
    table = pd.concat(frames, ignore_index=True)
    table.attrs.update({
        "comparisons": [list(p) for p in pairs],
        "criteria": {k: {"winner": v["winner"], "against": list(v["against"]), "alpha": v["alpha"]}
                     for k, v in parsed.items()},
        "n_bootstraps": int(n_bootstraps), "block_s": block_s, "block_samples": block, "ci": float(ci),
        "seed": int(seed), "n_folds": n_folds, "resample": resample,
        "alternative": alternative, "fold_spread": bool(fold_spread),
        "method": "paired circular block bootstrap of test rows within each outer fold, resamples shared by "
                  "all models (or a paired t-test over folds); percentile CI; BH-FDR within each comparison",
    })
    return table


def _row_bootstrap_setup(results: Mapping[str, EncodingResult], recording: Recording, block_s):
    """The shared outer folds and the bootstrap block (s, samples), checked against every test fold."""
    folds = _common_folds(results, recording)
    if block_s is None:
        gaps = [float(res.config.get("gap_s") or 0.0) for res in results.values()]
        block_s = max(gaps) if max(gaps) > 0 else 1.0
    block_s = float(block_s)
    if not (np.isfinite(block_s) and block_s > 0):
        raise BrainalignInputError(f"block_s must be a positive number of seconds, got {block_s!r}.")
    block = max(1, int(math.ceil(block_s / recording.sampling_period - 1e-9)))
    for k, test in enumerate(folds):
        if test.size < 2 * block:
            raise BrainalignInputError(
                f"Test fold {k} has {test.size} samples, fewer than two bootstrap blocks of {block} samples "
                f"({block_s:g} s); pass a smaller block_s."
            )
    return folds, block_s, block


def _bootstrap_pair_stats(pairs: list, q: float, alternative: str, fold_spread: bool, boot: dict,
                          results: Mapping[str, EncodingResult], cols: slice) -> dict:
    """p, ci_low, ci_high of every comparison for the targets ``cols``, from the shared bootstrap ``boot``."""
    out = {}
    for a, b in pairs:
        diff_boot = boot[a] - boot[b]
        if fold_spread:
            diff_boot = _widen_to_fold_spread(diff_boot, results[a].r[:, cols] - results[b].r[:, cols])
        p = (1.0 + (diff_boot <= 0).sum(0)) / (1.0 + diff_boot.shape[0])
        if alternative == "two-sided":
            p_other = (1.0 + (diff_boot >= 0).sum(0)) / (1.0 + diff_boot.shape[0])
            p = np.minimum(1.0, 2.0 * np.minimum(p, p_other))
        out[(a, b)] = (p, np.quantile(diff_boot, q, axis=0), np.quantile(diff_boot, 1.0 - q, axis=0))
    return out


def _check_fold_scores(results: Mapping[str, EncodingResult], recording: Recording) -> int:
    ref_name, ref = next(iter(results.items()))
    for name, res in results.items():
        if res.r.shape != (ref.r.shape[0], recording.n_targets):
            raise BrainalignInputError(
                f"model {name!r} has per-fold scores of shape {res.r.shape}, {ref_name!r} {ref.r.shape} and the "
                f"recording {recording.n_targets} targets: compare models scored on the same folds and targets."
            )
        if res.metadata.get("folds") != ref.metadata.get("folds"):
            raise BrainalignInputError(f"models {ref_name!r} and {name!r} were tested on different folds.")
    if ref.r.shape[0] < 3:
        raise BrainalignInputError("resample='folds' needs at least three outer folds (a t-test over folds).")
    return int(ref.r.shape[0])


def _widen_to_fold_spread(diff_boot: np.ndarray, fold_differences: np.ndarray) -> np.ndarray:
    """Scale each target's bootstrap deviations up to the between-fold standard error where that is larger."""
    n_folds = fold_differences.shape[0]
    if n_folds < 2:
        return diff_boot
    fold_se = fold_differences.std(0, ddof=1) / np.sqrt(n_folds)
    boot_sd = diff_boot.std(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(boot_sd > 0, np.maximum(1.0, fold_se / boot_sd), 1.0)
    centre = diff_boot.mean(0)
    return centre + (diff_boot - centre) * scale


def _paired_t(differences: np.ndarray, ci: float, alternative: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p of the mean difference (two-sided, or one-sided against <= 0) and the t interval, per target."""
    from scipy import stats

    n = differences.shape[0]
    mean = differences.mean(0)
    se = differences.std(0, ddof=1) / np.sqrt(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(se > 0, mean / se, np.sign(mean) * np.inf)
    p = np.where(np.isfinite(t), stats.t.sf(t, n - 1), np.where(mean > 0, 0.0, 1.0))
    if alternative == "two-sided":
        p = 2.0 * np.minimum(p, 1.0 - p)
    half = stats.t.ppf(1.0 - (1.0 - ci) / 2.0, n - 1) * se
    return np.clip(p, 0.0, 1.0), mean - half, mean + half

def save_comparison(table: pd.DataFrame, directory, name: str = "") -> Path:
    """Write ``model_comparison[_<name>].tsv`` (and its configuration as JSON) atomically into ``directory``.

    The report (:mod:`brainalign.report`) shows every ``model_comparison*.tsv``
    of a results folder as a "model A vs model B per target" section.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> t = pd.DataFrame({"model_a": "a", "model_b": "b", "target": ["t0"], "difference": [0.1],
    ...                   "ci_low": [0.0], "ci_high": [0.2], "p": [0.04], "p_fdr": [0.04]})
    >>> save_comparison(t, tempfile.mkdtemp(), "clip").name
    'model_comparison_clip.tsv'
    """
    missing = [c for c in ("model_a", "model_b", "target", "difference", "ci_low", "ci_high", "p_fdr")
               if c not in table.columns]
    if missing:
        raise BrainalignInputError(f"save_comparison needs a compare_models table; columns {missing} are missing.")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = "model_comparison" + (f"_{name}" if name else "")
    path = directory / f"{stem}.tsv"
    atomic_write_text(path, table.to_csv(sep="\t", index=False))
    save_json(directory / f"{stem}.json", {k: v for k, v in table.attrs.items() if k != "result"})
    return path


def _parse_criterion(name: str, spec, models: Sequence[str]) -> dict:
    if not isinstance(spec, Mapping):
        raise BrainalignInputError(
            f"criterion {name!r} must be a mapping like {{multimodal = 'clip', against = ['vit', 'bert']}}, "
            f"got {spec!r}."
        )
    winner = spec.get("winner", spec.get("multimodal"))
    against = spec.get("against")
    unknown = set(spec) - {"winner", "multimodal", "against", "alpha"}
    if unknown:
        raise BrainalignInputError(f"criterion {name!r} has unknown keys {sorted(unknown)}; "
                                   "use multimodal (or winner), against and alpha.")
    if not isinstance(winner, str) or not against or isinstance(against, str):
        raise BrainalignInputError(
            f"criterion {name!r} needs multimodal = '<model>' and against = [<models>], got {dict(spec)!r}."
        )
    for m in [winner, *against]:
        if m not in models:
            raise BrainalignInputError(f"criterion {name!r} names model {m!r}, not among {list(models)}.")
    alpha = float(spec.get("alpha", 0.05))
    if not 0 < alpha < 1:
        raise BrainalignInputError(f"criterion {name!r}: alpha must be in (0, 1), got {alpha!r}.")
    return {"winner": winner, "against": [str(a) for a in against], "alpha": alpha}


def _common_folds(results: Mapping[str, EncodingResult], recording: Recording) -> list[np.ndarray]:
    ref_name, folds = None, None
    for name, res in results.items():
        if getattr(res, "predictions", None) is None or getattr(res, "folds", None) is None:
            raise BrainalignInputError(
                f"model {name!r} has no test predictions; cross-validate it with return_predictions=True "
                "(cross_validate_models does)."
            )
        if res.predictions.shape != recording.data.shape:
            raise BrainalignInputError(
                f"model {name!r}'s predictions have shape {res.predictions.shape}, the recording "
                f"{recording.data.shape}."
            )
        f = [np.asarray(t) for t in res.folds]
        if folds is None:
            ref_name, folds = name, f
        elif len(f) != len(folds) or any(not np.array_equal(x, y) for x, y in zip(f, folds)):
            raise BrainalignInputError(
                f"models {ref_name!r} and {name!r} were tested on different folds; cross-validate them with "
                "cross_validate_models (one gap and cv for all)."
            )
    return folds


def composite_sites(table: pd.DataFrame, criterion: str | None = None, *, winner: str | None = None,
                    against: Sequence[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Targets where one model beats each of several others (FDR-significant and positive in every comparison).

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_models`.
    criterion : str, optional
        Name of a criterion stored in ``table.attrs["criteria"]``; otherwise give
        ``winner`` and ``against``.
    alpha : float
        FDR level of each comparison (a criterion's own alpha wins).

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target``, ``site`` (bool), ``n_won`` and one
        ``p_fdr[<other>]`` column per comparison.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model_a": ["c"] * 4, "model_b": ["v", "v", "b", "b"], "target": ["e1", "e2"] * 2,
    ...                   "p_fdr": [0.01, 0.01, 0.02, 0.3]})
    >>> composite_sites(t, winner="c", against=["v", "b"])["site"].tolist()
    [True, False]
    """
    if criterion is not None:
        crits = table.attrs.get("criteria", {})
        if criterion not in crits:
            raise BrainalignInputError(f"criterion {criterion!r} is not in the table's criteria {sorted(crits)}.")
        winner, against, alpha = crits[criterion]["winner"], crits[criterion]["against"], crits[criterion]["alpha"]
    if winner is None or not against:
        raise BrainalignInputError("composite_sites needs a criterion name, or winner= and against=.")
    targets = list(dict.fromkeys(table["target"]))
    out = pd.DataFrame({"target": targets})
    won = np.zeros(len(targets), dtype=int)
    for other in against:
        rows = table[(table["model_a"] == winner) & (table["model_b"] == other)]
        if rows.empty:
            raise BrainalignInputError(
                f"the table has no comparison ({winner!r}, {other!r}); add it to compare_models."
            )
        by_target = rows.set_index("target").reindex(targets)
        p = by_target["p_fdr"].to_numpy()
        out[f"p_fdr[{other}]"] = p
        # a two-sided p is small for losses too: only a positive difference is a win
        positive = by_target["difference"].to_numpy() > 0 if "difference" in by_target else np.ones(len(p), bool)
        won += ((p < alpha) & positive).astype(int)
    out["n_won"] = won
    out["site"] = won == len(against)
    return out


def winners_per_region(table: pd.DataFrame, regions: Mapping[str, str] | pd.Series, *,
                       alpha: float = 0.05, sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts of targets where each comparison (or a composite criterion) is significant, per region.

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_models`.
    regions : mapping target -> region label (e.g. atlas labels of electrodes)
    sites : DataFrame, optional
        From :func:`composite_sites`; adds a ``"criterion"`` row per region.

    Returns
    -------
    pandas.DataFrame
        ``region``, ``comparison`` (``"a > b"`` or ``"criterion"``), ``n_targets``,
        ``n_significant``, ``fraction``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model_a": "a", "model_b": "b", "target": ["e1", "e2", "e3"], "p_fdr": [0.01, 0.5, 0.02]})
    >>> winners_per_region(t, {"e1": "V1", "e2": "V1", "e3": "STG"})["n_significant"].tolist()
    [1, 1]
    """
    regions = pd.Series(dict(regions)) if not isinstance(regions, pd.Series) else regions
    missing = sorted(set(table["target"]) - set(regions.index))
    if missing:
        raise BrainalignInputError(f"regions has no label for targets {missing[:5]}; give every target a region.")
    positive = table["difference"] > 0 if "difference" in table else True
    t = table.assign(region=table["target"].map(regions),
                     comparison=table["model_a"] + " > " + table["model_b"],
                     significant=(table["p_fdr"] < alpha) & positive)
    parts = [t[["region", "comparison", "significant"]]]
    if sites is not None:
        parts.append(pd.DataFrame({"region": sites["target"].map(regions), "comparison": "criterion",
                                   "significant": sites["site"].astype(bool)}))
    t = pd.concat(parts, ignore_index=True)
    out = t.groupby(["region", "comparison"], sort=True)["significant"].agg(["size", "sum"]).reset_index()
    out.columns = ["region", "comparison", "n_targets", "n_significant"]
    out["n_significant"] = out["n_significant"].astype(int)
    out["fraction"] = out["n_significant"] / out["n_targets"]
    return out
