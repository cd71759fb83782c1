"""Sweep every layer of a model: scores per layer and target, best layer maps, results folder."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import (
    BrainalignInputError,
    DesignMatrix,
    EncodingResult,
    Recording,
    atomic_write_text,
    content_key,
    hash_array,
    load_json,
    save_json,
)
from ._baselines import autocorrelation_baseline
from ._crossval import (
    DEFAULT_BASELINE_ESTIMATOR,
    _jsonable,
    as_design,
    cross_validate,
    default_gap_s,
    package_versions,
    single_band_options,
)

logger = logging.getLogger("brainalign.encoding")

_METRICS = ("r", "r2")

#: how each estimator combines a layer with the baseline, as a sweep's config records it
BASELINE_COMBINATION = {"ridge": "stacked columns", "banded": "banded", "stacked": "stacked on residual",
                        "pcr": "gated principal components"}
#: per-target columns of a layer's gain test (result.metadata["gain_test"], sweep.gain_table())
_GAIN_COLUMNS = ("gain", "ci_low", "ci_high", "p", "p_fdr")


def _safe_dirname(name: str) -> str:
    """Layer names become folder names: keep them readable, never let them escape the folder."""
    cleaned = re.sub(r"[^A-Za-z0-9._+=-]", "_", name)
    if cleaned in ("", ".", ".."):
        cleaned = f"_{cleaned}_"
    return cleaned


class LayerSweep:
    """Cross-validated encoding scores of every layer (and the baselines) on one recording.

    Attributes
    ----------
    results : dict of str to EncodingResult
        One result per layer, in model order.  When a baseline was given, each
        layer's design is the layer stacked with the baseline regressors.
    baselines : dict of str to EncodingResult
        ``"baseline"`` (user regressors, when given) and ``"autocorrelation"``
        (time-only basis; see :func:`autocorrelation_baseline`).
    config : dict
    """

    def __init__(self, results: Mapping[str, EncodingResult], baselines: Mapping[str, EncodingResult] | None = None,
                 config: dict | None = None, data_hashes: dict | None = None):
        if not isinstance(results, Mapping) or (baselines is not None and not isinstance(baselines, Mapping)):
            raise BrainalignInputError("LayerSweep takes mappings of name to EncodingResult (results, baselines).")
        if not results:
            raise BrainalignInputError("A LayerSweep needs at least one layer result.")
        self.results = dict(results)
        self.baselines = dict(baselines or {})
        self.config = dict(config or {})
        self.data_hashes = dict(data_hashes or {})
        first = next(iter(self.results.values()))
        for name, res in {**self.results, **self.baselines}.items():
            if res.target_names != first.target_names:
                raise BrainalignInputError(f"Result {name!r} has different targets from {first.name!r}.")

    # ------------------------------------------------------------------ views
    @property
    def layer_names(self) -> list[str]:
        return list(self.results)

    @property
    def target_names(self) -> list[str]:
        return next(iter(self.results.values())).target_names

    def score_matrix(self, metric: str = "r") -> np.ndarray:
        """Fold-averaged scores, shape (n_layers, n_targets)."""
        if metric not in _METRICS:
            raise BrainalignInputError(f"metric must be one of {_METRICS}, got {metric!r}.")
        return np.stack([getattr(res, metric).mean(0) for res in self.results.values()])

    def baseline_scores(self, name: str = "baseline", metric: str = "r") -> np.ndarray:
        if name not in self.baselines:
            raise BrainalignInputError(f"No baseline {name!r}; this sweep has {list(self.baselines)}.")
        return getattr(self.baselines[name], metric).mean(0)

    def gain_over_baseline(self, metric: str = "r", baseline: str = "baseline") -> np.ndarray:
        """Layer score minus baseline score, (n_layers, n_targets): the headline of a sweep."""
        return self.score_matrix(metric) - self.baseline_scores(baseline, metric)[None, :]

    def gain_table(self) -> pd.DataFrame:
        """Gain of every layer over the baseline per target, with its paired bootstrap CI and FDR p.

        One row per (layer, target): ``gain`` (fold-averaged test r of layer +
        baseline minus that of the baseline alone), ``ci_low``, ``ci_high``,
        ``p`` (one-sided, gain <= 0) and ``p_fdr`` (Benjamini-Hochberg across
        targets, per layer), as computed by :func:`sweep_layers` with
        :func:`gain_over_baseline_test`'s paired circular block bootstrap.
        Empty when the sweep has no baseline or was run with ``gain_bootstraps=0``.
        """
        rows = []
        for name, res in self.results.items():
            test = res.metadata.get("gain_test")
            if not test:
                continue
            for i, target in enumerate(res.target_names):
                rows.append({"layer": name, "target": target,
                             **{k: float(test[k][i]) for k in _GAIN_COLUMNS}})
        return pd.DataFrame(rows, columns=["layer", "target", *_GAIN_COLUMNS])

    def best_layer_index(self, metric: str = "r") -> np.ndarray:
        """Index (into ``layer_names``) of the best-scoring layer per target."""
        return np.argmax(self.score_matrix(metric), axis=0)

    def best_layer(self, metric: str = "r") -> np.ndarray:
        """Name of the best-scoring layer per target."""
        return np.asarray(self.layer_names, dtype=object)[self.best_layer_index(metric)]

    def layer_profile(self, groups: Mapping[str, Sequence] | None = None, metric: str = "r") -> pd.DataFrame:
        """Mean score per layer (rows) and group of targets (columns), e.g. ROIs.

        ``groups`` maps a name to target indices or target names; ``None``
        gives one column per target.
        """
        S = self.score_matrix(metric)
        if groups is None:
            return pd.DataFrame(S, index=self.layer_names, columns=self.target_names)
        cols = {roi: S[:, self._target_indices(roi, members)].mean(1) for roi, members in groups.items()}
        return pd.DataFrame(cols, index=pd.Index(self.layer_names, name="layer"))

    def _target_indices(self, group: str, members: Sequence) -> list[int]:
        """Positions of ``members`` (target indices or names), with errors naming ``group``."""
        lookup = {n: i for i, n in enumerate(self.target_names)}
        idx = []
        for m in members:
            if isinstance(m, (int, np.integer)):
                if not 0 <= int(m) < len(lookup):
                    raise BrainalignInputError(f"Group {group!r}: target index {m} out of range.")
                idx.append(int(m))
            elif str(m) in lookup:
                idx.append(lookup[str(m)])
            else:
                raise BrainalignInputError(f"Group {group!r}: unknown target {m!r}.")
        if not idx:
            raise BrainalignInputError(f"Group {group!r} has no targets.")
        return idx

    def best_layer_ci(self, targets: Sequence | None = None, metric: str = "r", **kwargs) -> dict:
        """Bootstrap interval of the best layer over ``targets`` (indices or names; default all).

        Targets and folds are resampled; see :func:`bootstrap_best_layer_ci`.
        """
        from ._stats import bootstrap_best_layer_ci

        idx = np.arange(len(self.target_names))
        if targets is not None:
            idx = np.array(self._target_indices("targets", targets))
        folds = [getattr(res, metric)[:, idx] for res in self.results.values()]
        out = bootstrap_best_layer_ci(self.score_matrix(metric)[:, idx], folds, **kwargs)
        out["best_layer"] = self.layer_names[out["best"]]
        return out

    def headline(self, metric: str = "r") -> dict[str, float]:
        S = self.score_matrix(metric)
        profile = S.mean(1)
        best = int(np.argmax(profile))
        out = {f"best_layer_mean_{metric}": float(profile[best]), "best_layer_index": best}
        for name in self.baselines:
            out[f"{name}_mean_{metric}"] = float(self.baseline_scores(name, metric).mean())
        if "baseline" in self.baselines:
            out[f"gain_over_baseline_{metric}"] = float(profile[best] - out[f"baseline_mean_{metric}"])
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy table (subject, model, layer, target, fold, r, r2, alpha[, p], kind[, gain ...]).

        With a baseline, every layer row also carries its target's ``gain``,
        ``gain_ci_low``, ``gain_ci_high``, ``gain_p`` and ``gain_p_fdr`` (see
        :meth:`gain_table`; repeated over folds, NaN for baseline rows).
        """
        frames = []
        for kind, group in (("layer", self.results), ("baseline", self.baselines)):
            for res in group.values():
                frame = res.to_frame()
                frame["kind"] = kind
                frames.append(frame)
        frame = pd.concat(frames, ignore_index=True)
        gains = self.gain_table()
        if len(gains):
            gains = gains.rename(columns={k: f"gain_{k}" if k != "gain" else k for k in _GAIN_COLUMNS})
            gains["kind"] = "layer"
            frame = frame.merge(gains, on=["layer", "target", "kind"], how="left")
        return frame

    # ---------------------------------------------------------------- brain space
    def to_image(self, recording: Recording, metric: str = "r"):
        """4-D image: volume 0 = best layer index (1-based, 0 = below zero), volume 1 = its score."""
        S = self.score_matrix(metric)
        best = np.argmax(S, axis=0)
        score = S[best, np.arange(S.shape[1])]
        index = np.where(score > 0, best + 1, 0).astype(np.float32)
        return recording.to_image(np.stack([index, score.astype(np.float32)]))

    def to_evoked(self, recording: Recording, metric: str = "r"):
        """Sensor scores per layer as an ``mne.EvokedArray`` (one 'time point' per layer)."""
        return recording.to_evoked(self.score_matrix(metric).T, comment=f"layer sweep ({metric})")

    # -------------------------------------------------------------- results folder
    def summary(self) -> dict[str, Any]:
        gains = self.gain_table()
        gain_summary = {
            layer: {row.target: {k: float(getattr(row, k)) for k in _GAIN_COLUMNS} for row in group.itertuples()}
            for layer, group in gains.groupby("layer", sort=False)
        }
        return {
            "kind": "encoding",
            "config": self.config,
            "versions": package_versions(),
            "data_hashes": self.data_hashes,
            "headline": self.headline(),
            "gain_over_baseline": gain_summary,
            "layers": self.layer_names,
            "baselines": list(self.baselines),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def save(self, directory: str | Path, *, write_results: bool = True) -> Path:
        """Write the results folder: summary.json, scores.tsv, layers/<layer>/, baselines/<name>/.

        ``write_results=False`` only rewrites the table and summary (the
        per-layer folders were written as the sweep went).
        """
        directory = Path(directory)
        if write_results:
            for name, res in self.results.items():
                res.save(directory / "layers" / _safe_dirname(name))
            for name, res in self.baselines.items():
                res.save(directory / "baselines" / _safe_dirname(name))
        atomic_write_text(directory / "scores.tsv", self.to_frame().to_csv(sep="\t", index=False))
        save_json(directory / "summary.json", self.summary())
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "LayerSweep":
        directory = Path(directory)
        summary = load_json(directory / "summary.json")
        results = {name: EncodingResult.load(directory / "layers" / _safe_dirname(name)) for name in summary["layers"]}
        baselines = {name: EncodingResult.load(directory / "baselines" / _safe_dirname(name))
                     for name in summary.get("baselines", [])}
        return cls(results, baselines, summary.get("config"), summary.get("data_hashes"))

    def __repr__(self) -> str:
        return (f"LayerSweep(layers={self.layer_names}, baselines={list(self.baselines)}, "
                f"n_targets={len(self.target_names)})")


def _gain_test(result: EncodingResult, baseline: EncodingResult, recording: Recording, n_bootstraps: int,
               seed: int) -> dict:
    """Per-target gain of ``result`` over ``baseline`` with its paired bootstrap CI, p and FDR p (JSON-plain)."""
    import math

    from ._gain import bootstrap_fold_gains
    from ._stats import fdr

    folds = [np.asarray(f) for f in result.folds]
    if len(folds) != len(baseline.folds) or any(not np.array_equal(a, b) for a, b in zip(folds, baseline.folds)):
        raise BrainalignInputError(f"{result.name!r} and the baseline were tested on different folds.")
    # blocks as long as the gap: the span of haemodynamic / TRF history neighbouring samples share
    gap_s = float(result.config.get("gap_s") or 0.0)
    block = max(1, int(math.ceil(gap_s / recording.sampling_period - 1e-9))) if gap_s > 0 else 1
    block = min(block, max(1, min(f.size for f in folds) // 2))
    gains = bootstrap_fold_gains(recording.data, result.predictions, baseline.predictions, folds, block,
                                 n_bootstraps, np.random.default_rng(seed))
    p = (1.0 + (gains <= 0).sum(0)) / (1.0 + n_bootstraps)
    return {"gain": (result.r.mean(0) - baseline.r.mean(0)).tolist(),
            "ci_low": np.quantile(gains, 0.025, axis=0).tolist(),
            "ci_high": np.quantile(gains, 0.975, axis=0).tolist(),
            "p": p.tolist(), "p_fdr": fdr(p).tolist(),
            "n_bootstraps": n_bootstraps, "block_samples": block, "ci": 0.95,
            "method": "paired circular block bootstrap of test rows within each outer fold "
                      "(gain_over_baseline_test)"}


def _cached(path: Path, key: str) -> EncodingResult | None:
    if not (path / "result.json").is_file() or not (path / "scores.npz").is_file():
        return None
    try:
        res = EncodingResult.load(path)
    except (OSError, ValueError, KeyError) as err:
        logger.warning("Ignoring unreadable cached result in %s: %s", path, err)
        return None
    return res if res.metadata.get("config_key") == key else None


def sweep_layers(
    designs: Mapping[str, DesignMatrix],
    recording: Recording,
    *,
    baseline: DesignMatrix | None = None,
    autocorrelation: bool = True,
    results_dir: str | Path | None = None,
    gain_bootstraps: int = 1000,
    **cv_kwargs,
) -> LayerSweep:
    """Cross-validate every layer's design against ``recording``, baselines side by side.

    Parameters
    ----------
    designs : mapping of layer name to DesignMatrix (or array)
        In model order.
    recording : Recording
    baseline : DesignMatrix or None
        User regressors (e.g. word rate + sound power).  It is fitted alone
        (``baselines["baseline"]``) and stacked with every layer, so a layer's
        gain over the baseline is what the layer adds.
    autocorrelation : bool
        Also fit :func:`autocorrelation_baseline` (time-only model) and report
        it as ``baselines["autocorrelation"]``.
    results_dir : path or None
        Write each layer to ``layers/<layer>/`` as soon as it is done and skip
        layers already there with the same configuration (resume after an
        interruption); the full results folder is written at the end.
    gain_bootstraps : int
        With a baseline: resamples of the paired circular block bootstrap of
        every layer's gain over the baseline (interval, one-sided p, FDR; see
        :func:`gain_over_baseline_test`), stored in each layer result's
        ``metadata["gain_test"]`` and shown by :meth:`LayerSweep.gain_table`,
        the scores table and the summary.  0 skips it.
    **cv_kwargs
        Passed to :func:`cross_validate` (alphas, cv, gap_s, inner_cv, shuffle,
        n_permutations, seed, backend, model, ...).  Without ``gap_s`` the
        largest default gap over all designs is used for every fit, so layers
        and baselines are scored on the same folds.  With a baseline the
        default ``estimator`` is ``"pcr"``: the baseline is fitted first, then
        the layer's top ``k`` principal components (fitted on the training
        rows) on its training residual, ``k`` chosen per target by inner CV
        with "no layer" among the candidates, and the layer's prediction
        weighted by how clearly it helps (none below ``gate_se`` = 1 standard
        error), so a layer that carries nothing scores within noise of the
        baseline.  ``"stacked"`` (the layer's ridge
        on the baseline's residual, one-standard-error rule), ``"banded"``
        (banded ridge, one penalty per band) and ``"ridge"`` (one penalty over
        the stacked columns) are the alternatives; see the encoding guide for
        the comparison on real data.

    Returns
    -------
    LayerSweep
    """
    if not isinstance(designs, Mapping):
        raise BrainalignInputError(f"sweep_layers takes a dict of layer name to design, got {type(designs).__name__}.")
    if not designs:
        raise BrainalignInputError("sweep_layers needs at least one design.")
    if "return_predictions" in cv_kwargs:
        raise BrainalignInputError("return_predictions is not supported by sweep_layers; use cross_validate.")
    if int(gain_bootstraps) < 0:
        raise BrainalignInputError(f"gain_bootstraps must be >= 0 (0 skips the gain test), got {gain_bootstraps!r}.")
    base = as_design(baseline, recording) if baseline is not None else None
    if base is not None and "estimator" not in cv_kwargs:
        cv_kwargs = {**cv_kwargs, "estimator": DEFAULT_BASELINE_ESTIMATOR}
    if base is not None:
        base.check_matches(recording)
    rec_hash = hash_array(recording.data)
    common = {k: v for k, v in cv_kwargs.items()}
    if common.get("gap_s") is None:
        # one gap for every design, so that all layers and baselines share the same folds; taken
        # before stacking, which drops the layers' delay / lag metadata
        checked = [as_design(d, recording) for d in designs.values()] + ([base] if base is not None else [])
        common["gap_s"] = max(default_gap_s(d, recording) for d in checked)
    data_hashes = {"recording": rec_hash}
    if base is not None:
        data_hashes["baseline"] = hash_array(base.X)
    results_path = Path(results_dir) if results_dir is not None else None

    def run(design: DesignMatrix, folder: str, kwargs: dict, gain_against: Any = None) -> EncodingResult:
        parts = {"cv": _jsonable(kwargs, max_array_size=None), "design": hash_array(design.X),
                 "recording": rec_hash, "runs": list(map(str, design.runs)),
                 "target_names": recording.target_names}
        if gain_against is not None:
            parts["gain_test"] = {"n_bootstraps": int(gain_bootstraps), "seed": int(kwargs.get("seed", 0))}
        key = content_key(parts)
        path = results_path / folder / _safe_dirname(design.name) if results_path is not None else None
        if path is not None:
            cached = _cached(path, key)
            if cached is not None:
                logger.info("Reusing %s from %s", design.name, path)
                return cached
        result = cross_validate(design, recording, **kwargs, return_predictions=gain_against is not None)
        if gain_against is not None:
            result.metadata["gain_test"] = _gain_test(result, gain_against(), recording, int(gain_bootstraps),
                                                      int(kwargs.get("seed", 0)))
            del result.predictions, result.folds
        result.metadata["config_key"] = key
        if path is not None:
            result.save(path)
        return result

    combination = common.get("estimator", "ridge")
    # a single design has one band: pcr / stacked / banded only apply to layer + baseline
    single = single_band_options(common)

    baselines: dict[str, EncodingResult] = {}
    if base is not None:
        base_design = DesignMatrix(base.X, base.runs, base.sampling_period, "baseline", base.feature_names,
                                   base.metadata)
        baselines["baseline"] = run(base_design, "baselines", single)
    if autocorrelation:
        baselines["autocorrelation"] = run(autocorrelation_baseline(recording), "baselines", single)

    base_predictions: dict[str, EncodingResult] = {}

    def baseline_with_predictions() -> EncodingResult:
        # the baseline's held-out predictions on the same folds, for the paired gain test (not cached
        # on disk: a cached baseline is refitted once when a layer needs them)
        if "baseline" not in base_predictions:
            base_predictions["baseline"] = cross_validate(base_design, recording, **single, return_predictions=True)
        return base_predictions["baseline"]

    gain_against = baseline_with_predictions if (base is not None and int(gain_bootstraps) > 0) else None
    results: dict[str, EncodingResult] = {}
    from tqdm.auto import tqdm

    from .._logging import progress_disabled

    for name, design in tqdm(list(designs.items()), desc="layers", disable=progress_disabled()):
        design = as_design(design, recording)
        design.check_matches(recording)
        data_hashes[f"design:{name}"] = hash_array(design.X)
        if base is not None:
            design = DesignMatrix.stack([base, design], name=str(name))
            design.metadata["combined_with"] = "baseline"
        elif design.name != name:
            design = DesignMatrix(design.X, design.runs, design.sampling_period, str(name),
                                  design.feature_names, design.metadata)
        results[str(name)] = run(design, "layers", common if base is not None else single,
                                 gain_against if base is not None else None)
    config = {"cross_validate": _jsonable(common, max_array_size=None),
              "baseline": None if base is None else base.name,
              "baseline_combination": BASELINE_COMBINATION[combination] if base is not None else None,
              "gain_bootstraps": int(gain_bootstraps) if base is not None else 0,
              "autocorrelation_baseline": bool(autocorrelation), "layers": list(results),
              "subject": recording.subject, "recording_kind": recording.kind}
    sweep = LayerSweep(results, baselines, config, data_hashes)
    if results_path is not None:
        sweep.save(results_path, write_results=False)
    return sweep
