"""Several modalities fitted together: banded ridge with one band per modality and layer, variance partitioning."""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, DesignMatrix, Recording, atomic_write_text, load_json, save_json
from ._banded import BandedRidgeEncoder
from ._crossval import as_design, default_gap_s
from ._cv import resolve_outer_cv
from ._stats import r2_score

logger = logging.getLogger("brainalign.encoding")

__all__ = ["MultimodalResult", "fit_multimodal"]


@dataclass
class MultimodalResult:
    """Cross-validated scores of a joint multimodal fit and its variance partition.

    Attributes
    ----------
    scores : DataFrame
        One row per target (index ``target``): ``joint`` (held-out R² of the
        model with every band), ``unique:<modality>`` (joint R² minus the R²
        of the model without that modality's bands), ``shared`` (joint minus
        the sum of the unique parts), ``split:<band>`` (the band's share of
        the joint model's held-out R²; the shares sum to the joint R²), all
        averaged over the outer folds.
    bands : list of str
        Band names (``"<modality>:<layer>"``) in fitting order.
    modalities : dict of str to list of str
        The bands of each modality.
    folds : list of ndarray
        Test rows of each outer fold.
    metadata : dict
        Settings (``n_iter``, ``alphas``, ``gap_s``, cv), band sizes.
    """

    scores: pd.DataFrame
    bands: list[str]
    modalities: dict[str, list[str]]
    folds: list[np.ndarray] = field(repr=False, default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def target_names(self) -> list[str]:
        return [str(t) for t in self.scores.index]

    def modality_split(self) -> pd.DataFrame:
        """Per target and modality, the summed split R² of the modality's bands (joint model)."""
        return pd.DataFrame(
            {m: self.scores[[f"split:{b}" for b in bands]].sum(axis=1) for m, bands in self.modalities.items()},
            index=self.scores.index,
        )

    def best_modality(self) -> np.ndarray:
        """The modality whose bands explain most of each target's held-out variance in the joint model."""
        split = self.modality_split()
        return np.asarray(split.columns[np.argmax(split.to_numpy(), axis=1)], dtype=object)

    def band_scores(self) -> dict[str, np.ndarray]:
        """Split R² of every band per target, ``{band: (n_targets,)}``.

        The mapping :func:`brainalign.plotting.plot_best_layer_map` takes to
        colour each voxel by its best band: a layer x modality map on cortex.
        """
        return {band: self.scores[f"split:{band}"].to_numpy() for band in self.bands}

    def best_band(self) -> np.ndarray:
        """The band (``"<modality>:<layer>"``) with the largest split R² for each target."""
        split = self.scores[[f"split:{b}" for b in self.bands]].to_numpy()
        return np.asarray(self.bands, dtype=object)[np.argmax(split, axis=1)]

    def layer_modality_map(self, *, threshold: float | None = 0.0) -> pd.DataFrame:
        """Counts of targets whose best band is each layer of each modality (modalities x layers).

        Targets whose joint R² is not above ``threshold`` (``None``: keep all)
        are left out.  :meth:`best_band` gives the per-target labels for a
        map on cortex (e.g. :func:`brainalign.plotting.plot_best_layer_map`).
        """
        best = self.best_band()
        keep = np.ones(best.size, bool) if threshold is None else self.scores["joint"].to_numpy() > threshold
        layers = list(dict.fromkeys(b.split(":", 1)[1] for b in self.bands))
        table = pd.DataFrame(0, index=pd.Index(list(self.modalities), name="modality"),
                             columns=pd.Index(layers, name="layer"))
        for band in best[keep]:
            modality, layer = band.split(":", 1)
            table.loc[modality, layer] += 1
        return table

    def save(self, directory) -> Path:
        """Write ``scores.tsv`` and ``multimodal.json`` (bands, modalities, folds, settings) atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / "scores.tsv", self.scores.to_csv(sep="\t"))
        save_json(directory / "multimodal.json", {
            "format": "brainalign-multimodal-1", "bands": self.bands, "modalities": self.modalities,
            "folds": [np.asarray(f).tolist() for f in self.folds], "metadata": self.metadata,
        })
        return directory

    @classmethod
    def load(cls, directory) -> "MultimodalResult":
        """Read a result written by :meth:`save`."""
        directory = Path(directory)
        sidecar = directory / "multimodal.json"
        if not sidecar.is_file() or not (directory / "scores.tsv").is_file():
            raise BrainalignInputError(f"{directory} holds no multimodal result (scores.tsv + multimodal.json).")
        info = load_json(sidecar)
        if info.get("format") != "brainalign-multimodal-1":
            raise BrainalignInputError(f"{sidecar} has format {info.get('format')!r}, not brainalign-multimodal-1.")
        text = (directory / "scores.tsv").read_text(encoding="utf-8")
        scores = pd.read_csv(io.StringIO(text), sep="\t", index_col="target", dtype={"target": str})
        return cls(scores, list(info["bands"]), {k: list(v) for k, v in info["modalities"].items()},
                   [np.asarray(f, dtype=int) for f in info["folds"]], dict(info["metadata"]))

    def summary(self) -> pd.DataFrame:
        """Mean over targets of the joint, unique and shared R², and the share of targets each modality wins."""
        cols = ["joint"] + [f"unique:{m}" for m in self.modalities] + ["shared"]
        out = self.scores[[c for c in cols if c in self.scores]].mean().to_frame("mean_r2")
        wins = pd.Series(self.best_modality()).value_counts(normalize=True)
        for m in self.modalities:
            out.loc[f"best:{m}", "mean_r2"] = float(wins.get(m, 0.0))
        return out


def _modalities_of(bands: Sequence[str], modality_of_band: Mapping[str, str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for band in bands:
        if modality_of_band is not None:
            if band not in modality_of_band:
                raise BrainalignInputError(f"modality_of_band has no entry for band {band!r}.")
            modality = str(modality_of_band[band])
        else:
            if ":" not in band:
                raise BrainalignInputError(
                    f"Band {band!r} has no '<modality>:' prefix; name bands '<modality>:<layer>' (as "
                    "brainalign.alignment.multimodal_designs does) or pass modality_of_band=."
                )
            modality = band.split(":", 1)[0]
        out.setdefault(modality, []).append(band)
    return out


def _cv_banded(Xs: list[np.ndarray], Y: np.ndarray, folds, runs, gap: int, params: dict,
               want_split: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Fold-averaged held-out R² per target (and split R² per band) of banded ridge on ``Xs``."""
    r2 = np.zeros(Y.shape[1])
    split = np.zeros((len(Xs), Y.shape[1])) if want_split else None
    for train, test in folds:
        enc = BandedRidgeEncoder(**params).fit([X[train] for X in Xs], Y[train], runs=runs[train], gap=gap)
        test_bands = [X[test] for X in Xs]
        r2 += r2_score(Y[test], enc.predict(test_bands))
        if want_split:
            split += enc.score_bands(test_bands, Y[test])
    r2 /= len(folds)
    if split is not None:
        split /= len(folds)
    return r2, split


def fit_multimodal(
    bands: Mapping[str, DesignMatrix],
    recording: Recording,
    *,
    modality_of_band: Mapping[str, str] | None = None,
    partition: bool = True,
    alphas=None,
    n_iter: int = 20,
    cv="auto",
    gap_s: float | None = None,
    inner_cv: int = 5,
    backend: str = "auto",
    seed: int = 0,
) -> MultimodalResult:
    """Fit every band together with banded ridge and partition the held-out variance by modality.

    One penalty per band (modality x layer), tuned per target by himalaya's
    random search over band weightings on inner contiguous folds of each
    outer training set.  Outer folds: leave-one-run-out with several runs,
    else 5 contiguous blocks with ``gap_s`` seconds dropped from training
    around each test block.  With ``partition``, the model without each
    modality is fitted on the same folds and, per target::

        unique[m] = R2(all bands) - R2(all bands but those of m)
        shared    = R2(all bands) - sum over m of unique[m]

    Parameters
    ----------
    bands : mapping of str to DesignMatrix
        Bands on the recording's grid, named ``"<modality>:<layer>"`` (as
        :func:`brainalign.alignment.multimodal_designs` returns them).
    recording : Recording
    modality_of_band : mapping or None
        Band name to modality, for bands named otherwise.
    partition : bool
        Also fit the leave-one-modality-out models (one more fit per modality).
    alphas : array-like or None
        Candidate global penalties (default ``np.logspace(-1, 7, 17)``).
    n_iter : int
        Random band weightings tried per fit.
    cv : "auto", int or splitter
        Outer folds (as in :func:`cross_validate`).
    gap_s : float or None
        Seconds dropped around test blocks (default from the designs, ~20 s for fMRI).
    inner_cv : int
        Inner contiguous folds for the penalties.
    backend : {"auto", "numpy", "cpu", "torch", "torch_cuda"}
    seed : int

    Returns
    -------
    MultimodalResult

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import DesignMatrix, Recording
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    >>> Y = np.hstack([A @ rng.normal(size=(4, 3)), B @ rng.normal(size=(4, 3))]) + rng.normal(size=(300, 6))
    >>> rec = Recording(Y, sampling_period=2.0)
    >>> bands = {"video:layer.0": DesignMatrix(A, None, 2.0), "audio:layer.0": DesignMatrix(B, None, 2.0)}
    >>> res = fit_multimodal(bands, rec, n_iter=5, backend="numpy")
    >>> res.best_modality().tolist()
    ['video', 'video', 'video', 'audio', 'audio', 'audio']
    """
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    if not isinstance(bands, Mapping) or not bands:
        raise BrainalignInputError("bands must be a non-empty mapping of band name to DesignMatrix.")
    names = [str(b) for b in bands]
    modalities = _modalities_of(names, modality_of_band)
    designs = {name: as_design(d, recording) for name, d in zip(names, bands.values())}
    for design in designs.values():
        design.check_matches(recording)
    if gap_s is None:
        gap_s = max(default_gap_s(d, recording) for d in designs.values())
    if gap_s < 0:
        raise BrainalignInputError(f"gap_s must be >= 0 seconds, got {gap_s}.")
    gap = int(math.ceil(gap_s / recording.sampling_period - 1e-9))
    runs = np.asarray(recording.runs)
    splitter = resolve_outer_cv(cv, runs, gap, False, seed)
    folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(recording.n_samples, None, runs)]
    if len(folds) < 2:
        raise BrainalignInputError(f"Cross-validation needs at least 2 folds, {splitter!r} gave {len(folds)}.")
    Y = np.asarray(recording.data, dtype=np.float32)
    params = {"alphas": alphas, "n_iter": int(n_iter), "cv": int(inner_cv), "backend": backend,
              "random_state": int(seed)}
    Xs = [designs[n].X for n in names]
    logger.info("Multimodal fit: %d bands (%s) x %d targets, %d folds.", len(names),
                ", ".join(f"{m}: {len(b)}" for m, b in modalities.items()), Y.shape[1], len(folds))
    joint, split = _cv_banded(Xs, Y, folds, runs, gap, params, want_split=True)
    table = pd.DataFrame({"joint": joint}, index=pd.Index(recording.target_names, name="target"))
    if partition and len(modalities) >= 2:
        unique_sum = np.zeros_like(joint)
        for modality in modalities:
            rest = [designs[n].X for n in names if n not in modalities[modality]]
            without, _ = _cv_banded(rest, Y, folds, runs, gap, params, want_split=False)
            table[f"unique:{modality}"] = joint - without
            unique_sum += joint - without
        table["shared"] = joint - unique_sum
    for band, values in zip(names, split):
        table[f"split:{band}"] = values
    metadata = {"n_iter": int(n_iter), "alphas": None if alphas is None else np.asarray(alphas).tolist(),
                "gap_s": float(gap_s), "cv": repr(splitter), "inner_cv": int(inner_cv),
                "band_sizes": {n: designs[n].n_features for n in names}, "partition": bool(partition),
                "n_samples": int(recording.n_samples)}
    return MultimodalResult(table, names, modalities, [te for _, te in folds], metadata)
