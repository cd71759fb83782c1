"""The encoding cell: fit the baselines once, fit each layer given the baseline with its gain test, assemble a sweep.

One implementation for every path that scores layers against a baseline:
:func:`sweep_layers`, :func:`gain_over_baseline_test`, ``brainalign encode``
and the study tasks (which run the three steps in separate processes, the
baselines' fits travelling through :meth:`BaselineFits.save` / :meth:`BaselineFits.load`).

>>> import numpy as np
>>> from brainalign.core import Recording
>>> rng = np.random.default_rng(0)
>>> base, layer = rng.normal(size=(300, 2)), rng.normal(size=(300, 3))
>>> rec = Recording(base @ [[1.0], [1.0]] + layer @ [[1.0], [0.0], [0.0]] + rng.normal(size=(300, 1)),
...                 sampling_period=2.0)
>>> fits = fit_baselines(rec, baseline=base, designs=[layer], backend="numpy")
>>> result = fit_layer(layer, rec, fits, name="layer.0", gain_bootstraps=200)
>>> sweep = assemble_sweep({"layer.0": result}, fits)
>>> bool(sweep.gain_table()["ci_low"].iloc[0] > 0)
True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..core import (
    BrainalignInputError,
    DesignMatrix,
    EncodingResult,
    Recording,
    hash_array,
    load_arrays,
    load_json,
    save_arrays,
    save_json,
    seconds_to_samples,
)
from ._baselines import autocorrelation_baseline
from ._bootstrap import bootstrap_fold_gains
from ._crossval import _jsonable, as_design, cross_validate, default_gap_s, with_baseline
from ._layer_sweep import BASELINE_COMBINATION, LayerSweep
from ._registry import DEFAULT_BASELINE_ESTIMATOR, DEFAULT_ESTIMATOR, estimator_name, estimator_options
from ._stats import fdr

logger = logging.getLogger("brainalign.encoding")

#: options of cross_validate itself (the rest belong to the estimator)
CROSS_VALIDATE_OPTIONS = ("cv", "gap_s", "shuffle", "n_permutations", "seed", "model", "standardize", "pca")
#: options a one-band fit (a baseline alone) shares with the layer's estimator, so that their scores are paired
_SHARED_ESTIMATOR_OPTIONS = ("alphas", "inner_cv", "backend", "n_targets_batch")


def baseline_options(options: Mapping[str, Any]) -> dict:
    """``cross_validate`` options of a one-band fit (a baseline alone, a layer without baseline): plain ridge.

    Folds, gap, seed and the options the layer's estimator shares with ridge
    (alphas, inner CV, backend, ...) are kept, so a layer's and its baseline's
    scores are paired; options of another estimator are dropped.

    Examples
    --------
    >>> baseline_options({"estimator": "pcr", "gate_se": 2.0, "alphas": [1.0, 10.0], "seed": 3})
    {'alphas': [1.0, 10.0], 'seed': 3, 'estimator': 'ridge'}
    """
    options = dict(options)
    estimator = options.pop("estimator", None)
    if estimator is None or estimator == DEFAULT_ESTIMATOR:
        return {**options, **({"estimator": estimator} if estimator is not None else {})}
    ridge = estimator_options(DEFAULT_ESTIMATOR)
    if isinstance(estimator, str):
        shared = {k: v for k, v in options.items() if k in ridge and k not in CROSS_VALIDATE_OPTIONS}
    else:  # an object: its own values of the options ridge shares
        params = estimator.get_params(deep=False)
        shared = {k: params[k] for k in _SHARED_ESTIMATOR_OPTIONS if k in params}
        shared.update({k: v for k, v in options.items() if k in ridge and k not in CROSS_VALIDATE_OPTIONS})
    own = {k: v for k, v in options.items() if k in CROSS_VALIDATE_OPTIONS}
    return {**{k: v for k, v in options.items() if k in shared or k in own}, **shared,
            **own, "estimator": DEFAULT_ESTIMATOR}


def layer_options(options: Mapping[str, Any], has_baseline: bool) -> dict:
    """``cross_validate`` options of a layer: with a baseline the default estimator is ``"pcr"``;
    without one the layer is a one-band fit (:func:`baseline_options`)."""
    if has_baseline:
        options = dict(options)
        options.setdefault("estimator", DEFAULT_BASELINE_ESTIMATOR)
        return options
    return baseline_options(options)


def shared_gap_s(designs: Iterable[DesignMatrix], recording: Recording) -> float:
    """The largest default gap over ``designs``: one gap, hence the same folds, for every fit of a cell."""
    return max(default_gap_s(d, recording) for d in designs)


@dataclass
class BaselineFits:
    """The baselines of a cell, fitted once and shared by every layer fit.

    Attributes
    ----------
    results : dict of str to EncodingResult
        ``"baseline"`` (the user's regressors, when given) and ``"autocorrelation"``.
    design : DesignMatrix or None
        The baseline regressors as one band named ``"baseline"``.
    options : dict
        ``cross_validate`` options of the layer fits (``gap_s`` fixed, the
        estimator defaulted), recorded in the sweep's config.
    history_s : float
        Default bootstrap block length of the gain test: the designs' default
        gap (the span of history neighbouring samples share).
    predictions : ndarray or None
        The baseline's held-out predictions (n_samples, n_targets) for the
        paired gain test, with ``folds`` its test rows.
    """

    results: dict[str, EncodingResult]
    design: DesignMatrix | None
    options: dict
    history_s: float
    predictions: np.ndarray | None = None
    folds: list[np.ndarray] | None = None
    data_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def has_baseline(self) -> bool:
        return self.design is not None

    def baseline_with_predictions(self) -> EncodingResult:
        if self.predictions is None:
            raise BrainalignInputError("These baseline fits were made without predictions (gain_test=False); "
                                       "fit them again with gain_test=True for a gain test.")
        result = self.results["baseline"]
        result.predictions, result.folds = self.predictions, self.folds
        return result

    def save(self, folder: str | Path) -> Path:
        """Write the fits (results, baseline design, predictions, options) to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, result in self.results.items():
            result.save(folder / name)
        if self.design is not None:
            _save_npy(folder / "baseline_design.npy", np.asarray(self.design.X))
            save_json(folder / "baseline_design.json", {
                "runs": list(map(str, self.design.runs)), "sampling_period": self.design.sampling_period,
                "feature_names": self.design.feature_names, "metadata": _jsonable(self.design.metadata, None)})
        if self.predictions is not None:
            _save_npy(folder / "predictions.npy", self.predictions)
            save_arrays(folder / "folds.npz", {f"fold{k}": np.asarray(f) for k, f in enumerate(self.folds)})
        save_json(folder / "fits.json", {"baselines": list(self.results), "options": _jsonable(self.options, None),
                                         "history_s": float(self.history_s), "data_hashes": self.data_hashes})
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, predictions: bool = True) -> "BaselineFits":
        """Read fits written by :meth:`save` (``predictions=False`` skips the predictions file)."""
        folder = Path(folder)
        info = load_json(folder / "fits.json")
        results = {name: EncodingResult.load(folder / name) for name in info["baselines"]}
        design = None
        if (folder / "baseline_design.json").is_file():
            side = load_json(folder / "baseline_design.json")
            design = DesignMatrix(np.load(folder / "baseline_design.npy", allow_pickle=False), np.asarray(side["runs"]),
                                  side["sampling_period"], "baseline", side["feature_names"], side["metadata"])
        preds = folds = None
        if predictions and (folder / "predictions.npy").is_file():
            preds = np.load(folder / "predictions.npy", allow_pickle=False)
            arrays = load_arrays(folder / "folds.npz")
            folds = [arrays[f"fold{k}"] for k in range(len(arrays))]
        options = dict(info["options"])
        if isinstance(options.get("alphas"), list):
            options["alphas"] = np.asarray(options["alphas"], dtype=np.float64)
        return cls(results, design, options, float(info["history_s"]), preds, folds, dict(info.get("data_hashes", {})))


def _save_npy(path: Path, array: np.ndarray) -> None:
    from ..core import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: np.save adds no ".npy"
        np.save(fh, array, allow_pickle=False)


def fit_baselines(recording: Recording, *, baseline=None, designs: Iterable = (), autocorrelation: bool = True,
                  gain_test: bool = True, **options) -> BaselineFits:
    """Fit the cell's baselines once: the user's regressors and the time-only (autocorrelation) model.

    Parameters
    ----------
    recording : Recording
    baseline : DesignMatrix, ndarray or None
        The baseline regressors (e.g. word rate + sound power), used as one band.
    designs : iterable of DesignMatrix or ndarray
        The layers' designs: without ``gap_s`` the gap of every fit is the
        largest default gap over them and the baseline (so all fits share folds).
    autocorrelation : bool
        Also fit :func:`autocorrelation_baseline`.
    gain_test : bool
        Keep the baseline's held-out predictions for the layers' gain tests.
    **options
        ``cross_validate`` options of the cell (estimator of the layers and its
        options, cv, gap_s, seed, ...); the baselines are fitted by ridge with
        the options ridge shares (:func:`baseline_options`).

    Returns
    -------
    BaselineFits
    """
    if "return_predictions" in options:
        raise BrainalignInputError("return_predictions is set by the encoding cell; do not pass it.")
    base = as_design(baseline, recording) if baseline is not None else None
    if base is not None:
        base.check_matches(recording)
        base = base.as_one_band("baseline")
    checked = [as_design(d, recording) for d in designs] + ([base] if base is not None else [])
    history_s = shared_gap_s(checked, recording) if checked else default_gap_s(
        autocorrelation_baseline(recording), recording)
    options = layer_options(options, base is not None)
    if options.get("gap_s") is None:
        # one gap for every design, so that all layers and baselines share the same folds
        options["gap_s"] = history_s
    single = baseline_options(options)
    results: dict[str, EncodingResult] = {}
    preds = folds = None
    hashes = {"recording": hash_array(recording.data)}
    if base is not None:
        result = cross_validate(base, recording, **single, return_predictions=gain_test)
        if gain_test:
            preds, folds = result.predictions, result.folds
            del result.predictions, result.folds
        results["baseline"] = result
        hashes["baseline"] = hash_array(base.X)
    if autocorrelation:
        results["autocorrelation"] = cross_validate(autocorrelation_baseline(recording), recording, **single)
    return BaselineFits(results, base, options, float(history_s), preds, folds, hashes)


def fit_layer(design, recording: Recording, baselines: BaselineFits, *, name: str | None = None,
              gain_bootstraps: int = 1000, model: str | None = None, stack_baseline: bool = True,
              block_s: float | None = None, ci: float = 0.95, keep_predictions: bool = False) -> EncodingResult:
    """Fit one layer given the cell's baseline (stacked after it), with its paired gain test.

    Parameters
    ----------
    design : DesignMatrix or ndarray
        The layer's design on the recording's grid.
    recording : Recording
    baselines : BaselineFits
        From :func:`fit_baselines` (its options are the layer's ``cross_validate`` options).
    name : str or None
        The layer's name (default: the design's).
    gain_bootstraps : int
        Resamples of the gain test (stored in ``result.metadata["gain_test"]``,
        see :func:`gain_test`); 0 skips it.  Without a baseline there is none.
    model : str or None
        Model label of the result.
    stack_baseline : bool
        Fit the layer after the baseline (the gain is what the layer adds);
        ``False`` fits the layer alone with the same options (a non-nested comparison).
    block_s, ci : float
        The gain test's block length (default: see :func:`gain_test`) and interval coverage.
    keep_predictions : bool
        Leave ``result.predictions`` / ``result.folds`` attached.

    Returns
    -------
    EncodingResult
    """
    design = as_design(design, recording)
    design.check_matches(recording)
    name = str(name if name is not None else design.name)
    if baselines.has_baseline and stack_baseline:
        design = with_baseline(design, baselines.design, name=name)
    elif design.name != name:
        design = DesignMatrix(design.X, design.runs, design.sampling_period, name, design.feature_names,
                              design.metadata, design.bands)
    options = dict(baselines.options)
    if model is not None:
        options["model"] = model
    run_gain = baselines.has_baseline and int(gain_bootstraps) > 0
    result = cross_validate(design, recording, **options, return_predictions=run_gain or keep_predictions)
    if run_gain:
        result.metadata["gain_test"] = gain_test(result, baselines.baseline_with_predictions(), recording,
                                                 n_bootstraps=int(gain_bootstraps), seed=int(options.get("seed", 0)),
                                                 block_s=block_s, history_s=baselines.history_s, ci=ci)
    if run_gain and not keep_predictions:
        del result.predictions, result.folds
    return result


def gain_test(result: EncodingResult, baseline: EncodingResult, recording: Recording, *, n_bootstraps: int = 1000,
              seed: int = 0, block_s: float | None = None, history_s: float | None = None, ci: float = 0.95) -> dict:
    """Per-target gain of ``result`` over ``baseline`` with its paired circular block-bootstrap CI, p and FDR p.

    Both results must carry their held-out predictions on the same folds
    (``cross_validate(..., return_predictions=True)``).  The method is
    described in :func:`gain_over_baseline_test`.

    Block length: ``block_s`` seconds when given, else the cross-validation gap
    (``result.config["gap_s"]``), else (gap 0) ``history_s``, the designs'
    default gap.  The short-fold rule: every test fold must hold two blocks.
    A block the caller chose (``block_s``) is never changed: a shorter fold
    is an error.  The default block is shrunk to half the shortest fold
    (logged, and recorded as ``block_shrunk``), so a sweep with many short
    folds still gets a test.

    Returns
    -------
    dict (JSON-plain) with per-target lists ``gain``, ``ci_low``, ``ci_high``,
    ``p`` (one-sided, gain <= 0), ``p_fdr`` and the test's settings.
    """
    if int(n_bootstraps) < 1:
        raise BrainalignInputError(f"n_bootstraps must be a positive integer, got {n_bootstraps!r}.")
    if not 0 < ci < 1:
        raise BrainalignInputError(f"ci must be a coverage in (0, 1), e.g. 0.95, got {ci!r}.")
    folds = [np.asarray(f) for f in result.folds]
    if len(folds) != len(baseline.folds) or any(not np.array_equal(a, b) for a, b in zip(folds, baseline.folds)):
        raise BrainalignInputError(
            f"{result.name!r} and the baseline were tested on different folds; pass an explicit cv and gap_s.")
    explicit = block_s is not None
    if block_s is None:
        # the gap is the span of history samples share; gap_s=0 says nothing about it
        gap_s = float(result.config.get("gap_s") or 0.0)
        block_s = gap_s if gap_s > 0 else (history_s if history_s is not None else 0.0)
    block_s = float(block_s)
    if explicit and not (np.isfinite(block_s) and block_s > 0):
        raise BrainalignInputError(f"block_s must be a positive number of seconds, got {block_s!r}.")
    block = max(1, seconds_to_samples(block_s, recording.sampling_period))
    shortest = min(f.size for f in folds)
    shrunk = False
    if shortest < 2 * block:
        k = int(np.argmin([f.size for f in folds]))
        if explicit:
            raise BrainalignInputError(
                f"Test fold {k} has {shortest} samples, fewer than two bootstrap blocks of {block} samples "
                f"({block_s:g} s); pass a smaller block_s or use fewer, longer folds.")
        logger.warning("%s: test fold %d has %d samples, fewer than two bootstrap blocks of %d samples; the "
                       "gain test uses blocks of %d samples.", result.name, k, shortest, block,
                       max(1, shortest // 2))
        block, shrunk = max(1, shortest // 2), True
    n_bootstraps = int(n_bootstraps)
    gains = bootstrap_fold_gains(recording.data, result.predictions, baseline.predictions, folds, block,
                                 n_bootstraps, np.random.default_rng(seed))
    p = (1.0 + (gains <= 0).sum(0)) / (1.0 + n_bootstraps)
    q = round((1.0 - ci) / 2.0, 12)  # 0.025 exactly for a 95% interval, not 0.025000000000000022
    return {"gain": (result.r.mean(0) - baseline.r.mean(0)).tolist(),
            "ci_low": np.quantile(gains, q, axis=0).tolist(),
            "ci_high": np.quantile(gains, 1.0 - q, axis=0).tolist(),
            "p": p.tolist(), "p_fdr": fdr(p).tolist(),
            "n_bootstraps": n_bootstraps, "block_samples": block, "block_s": block_s, "block_shrunk": shrunk,
            "ci": float(ci), "method": "paired circular block bootstrap of test rows within each outer fold "
                                       "(gain_over_baseline_test)"}


def sweep_config(baselines: BaselineFits, layers: Iterable[str], recording: Recording, *, gain_bootstraps: int,
                 **extra) -> dict:
    """The config a sweep records: the layers' cross_validate options, baseline, combination, gain test."""
    options = baselines.options
    estimator = options.get("estimator", DEFAULT_ESTIMATOR)
    name = estimator if isinstance(estimator, str) else estimator_name(estimator)
    recorded = dict(options)
    if not isinstance(estimator, str):
        recorded["estimator"] = name
        recorded["estimator_params"] = _jsonable(estimator.get_params(deep=False), None)
    return {"cross_validate": _jsonable(recorded, max_array_size=None),
            "baseline": "baseline" if baselines.has_baseline else None,
            "baseline_combination": BASELINE_COMBINATION.get(name, name) if baselines.has_baseline else None,
            "gain_bootstraps": int(gain_bootstraps) if baselines.has_baseline else 0,
            "autocorrelation_baseline": "autocorrelation" in baselines.results, "layers": list(layers),
            "subject": recording.subject, "recording_kind": recording.kind, **extra}


def assemble_sweep(results: Mapping[str, EncodingResult], baselines: BaselineFits, *, config: dict | None = None,
                   data_hashes: Mapping[str, str] | None = None) -> LayerSweep:
    """A :class:`LayerSweep` from per-layer results (in model order) and the cell's baselines."""
    hashes = {**baselines.data_hashes, **(data_hashes or {})}
    return LayerSweep(dict(results), dict(baselines.results), config, hashes)


__all__ = ["BaselineFits", "assemble_sweep", "baseline_options", "fit_baselines", "fit_layer", "gain_test",
           "layer_options", "shared_gap_s", "sweep_config"]
