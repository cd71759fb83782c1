"""The results of a layer sweep: scores per layer and target, gains, best layer maps, results folder."""

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
    best_level,
    content_key,
    hash_array,
    load_json,
    save_json,
)
from ._crossval import package_versions
from ._stats import bootstrap_best_layer_ci

logger = logging.getLogger("brainalign.encoding")

_METRICS = ("r", "r2")

#: how each estimator combines a layer with the baseline, as a sweep's config records it (other
#: estimators: their registered name)
BASELINE_COMBINATION = {"ridge": "stacked columns", "banded": "banded", "stacked": "stacked on residual",
                        "pcr": "gated principal components"}
#: per-target columns of a layer's gain test (result.metadata["gain_test"], sweep.gain_table())
_GAIN_COLUMNS = ("gain", "ci_low", "ci_high", "p", "p_fdr")


def layer_dirname(name: str) -> str:
    """The folder name of a layer's (or baseline's) results: readable, never escaping the results folder.

    Examples
    --------
    >>> layer_dirname("encoder/layer 3"), layer_dirname("..")
    ('encoder_layer_3', '_.._')
    """
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
        """Index (into ``layer_names``) of the best-scoring layer per target (:func:`~brainalign.core.best_level`)."""
        return best_level(self.score_matrix(metric)).index

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
        best = best_level(self.score_matrix(metric))
        return recording.to_image(np.stack([best.map_values(), best.score.astype(np.float32)]))

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

    def write_maps(self, recording: Recording, directory: str | Path) -> list[str]:
        """Best-layer maps in ``directory/maps`` through the recording's space: NIfTI for volumes, GIfTI
        per surface (volume/map 0 = best layer, 1-based, 0 where no layer scores above zero; 1 = its
        score).  Nothing is written for recordings without an image space; returns the paths."""
        import nibabel as nib

        from ..core import atomic_suffixed_path

        if recording.space is None or not hasattr(recording.space, "inverse_transform"):
            return []
        images = self.to_image(recording)
        if not isinstance(images, tuple):
            images = (images,)
        written = []
        for i, image in enumerate(images):
            gifti = isinstance(image, nib.gifti.GiftiImage)
            suffix = ".func.gii" if gifti else ".nii.gz"
            part = f"_{i}" if len(images) > 1 else ""
            path = Path(directory) / "maps" / f"best_layer{part}{suffix}"
            with atomic_suffixed_path(path, suffix) as named:  # nibabel picks the format from the name
                nib.save(image, str(named))
            written.append(str(path))
        return written

    def save(self, directory: str | Path, *, write_results: bool = True) -> Path:
        """Write the results folder: summary.json, scores.tsv, layers/<layer>/, baselines/<name>/.

        ``write_results=False`` only rewrites the table and summary (the
        per-layer folders were written as the sweep went).
        """
        directory = Path(directory)
        if write_results:
            for name, res in self.results.items():
                res.save(directory / "layers" / layer_dirname(name))
            for name, res in self.baselines.items():
                res.save(directory / "baselines" / layer_dirname(name))
        atomic_write_text(directory / "scores.tsv", self.to_frame().to_csv(sep="\t", index=False))
        save_json(directory / "summary.json", self.summary())
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "LayerSweep":
        directory = Path(directory)
        summary = load_json(directory / "summary.json")
        results = {name: EncodingResult.load(directory / "layers" / layer_dirname(name)) for name in summary["layers"]}
        baselines = {name: EncodingResult.load(directory / "baselines" / layer_dirname(name))
                     for name in summary.get("baselines", [])}
        return cls(results, baselines, summary.get("config"), summary.get("data_hashes"))

    def __repr__(self) -> str:
        return (f"LayerSweep(layers={self.layer_names}, baselines={list(self.baselines)}, "
                f"n_targets={len(self.target_names)})")


