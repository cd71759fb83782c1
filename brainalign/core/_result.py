"""Encoding results: per-fold, per-target scores with the config that made them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._io import load_arrays, load_json, save_arrays, save_json
from ._validation import BrainalignInputError, as_float_array


@dataclass(eq=False)
class EncodingResult:
    """Cross-validated encoding scores of one design (layer) on one recording.

    Scores are computed within each test fold and then averaged; they are
    never computed on predictions concatenated across folds.

    Parameters
    ----------
    r, r2 : ndarray, shape (n_folds, n_targets)
        Pearson correlation and coefficient of determination on each test fold.
    alphas : ndarray, shape (n_folds, n_targets)
        Ridge penalty chosen (by inner CV on training data) for each fold/target.
    target_names : sequence of str
    name : str
        Layer (design) name.
    subject, model : str
    p_values : ndarray, shape (n_targets,) or None
        Permutation p-values of the fold-averaged r (FDR-corrected ones in
        ``metadata["p_fdr"]`` when computed).
    config : dict
        The full configuration that produced this result (for provenance).
    metadata : dict
        Fold definitions, warnings (e.g. shuffled CV), package versions ...
    """

    r: np.ndarray
    r2: np.ndarray
    alphas: np.ndarray
    target_names: Sequence[str]
    name: str = "features"
    subject: str = "sub-01"
    model: str = ""
    p_values: np.ndarray | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.r = np.atleast_2d(as_float_array(self.r, "r"))
        self.r2 = np.atleast_2d(as_float_array(self.r2, "r2"))
        self.alphas = np.atleast_2d(as_float_array(self.alphas, "alphas"))
        if self.target_names is None or isinstance(self.target_names, str) or not np.iterable(self.target_names):
            raise BrainalignInputError("target_names must be a list with one name per target.")
        self.target_names = [str(t) for t in self.target_names]
        shapes = {self.r.shape, self.r2.shape, self.alphas.shape}
        if len(shapes) != 1:
            raise BrainalignInputError(f"r, r2 and alphas must have one shape, got {sorted(shapes)}.")
        if self.r.shape[1] != len(self.target_names):
            raise BrainalignInputError(
                f"{self.r.shape[1]} score columns but {len(self.target_names)} target names."
            )
        if self.p_values is not None:
            self.p_values = np.asarray(self.p_values, dtype=np.float64)
            if self.p_values.shape != (self.n_targets,):
                raise BrainalignInputError(f"p_values must have shape ({self.n_targets},).")

    @property
    def n_folds(self) -> int:
        return int(self.r.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.r.shape[1])

    @property
    def mean_r(self) -> np.ndarray:
        """Fold-averaged correlation per target."""
        return self.r.mean(axis=0)

    @property
    def mean_r2(self) -> np.ndarray:
        return self.r2.mean(axis=0)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (target, fold)."""
        folds, targets = np.meshgrid(np.arange(self.n_folds), np.arange(self.n_targets), indexing="ij")
        frame = pd.DataFrame(
            {
                "subject": self.subject,
                "model": self.model,
                "layer": self.name,
                "target": np.asarray(self.target_names, dtype=object)[targets.ravel()],
                "fold": folds.ravel(),
                "r": self.r.ravel(),
                "r2": self.r2.ravel(),
                "alpha": self.alphas.ravel(),
            }
        )
        if self.p_values is not None:
            frame["p"] = self.p_values[targets.ravel()]
        return frame

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        arrays = {"r": self.r, "r2": self.r2, "alphas": self.alphas, "target_names": np.array(self.target_names)}
        if self.p_values is not None:
            arrays["p_values"] = self.p_values
        save_arrays(directory / "scores.npz", arrays)
        save_json(
            directory / "result.json",
            {"name": self.name, "subject": self.subject, "model": self.model,
             "config": self.config, "metadata": self.metadata},
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "EncodingResult":
        directory = Path(directory)
        arrays = load_arrays(directory / "scores.npz")
        side = load_json(directory / "result.json")
        return cls(
            arrays["r"], arrays["r2"], arrays["alphas"], list(arrays["target_names"]),
            side["name"], side["subject"], side["model"], arrays.get("p_values"),
            side["config"], side["metadata"],
        )

    def __repr__(self) -> str:
        return (
            f"EncodingResult(name={self.name!r}, subject={self.subject!r}, n_folds={self.n_folds}, "
            f"n_targets={self.n_targets}, median r={np.median(self.mean_r):.3f})"
        )
