"""What a simulated participant was built from, for checking what encoding recovers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core import load_arrays, load_json, save_arrays, save_json


@dataclass(eq=False)
class SimulationTruth:
    """Ground truth of a simulated recording.

    Attributes
    ----------
    layer_of_target : list of str or None
        The layer planted in each target; ``None`` for pure-noise targets.
    layer_names : list of str
        The candidate layers, in model order.
    weights : list of ndarray
        Per target, the weights over its layer's (standardised, HRF-convolved
        or lag-filtered) feature columns — or over principal components when
        ``n_components`` was set; empty for noise targets.
    snr : ndarray, shape (n_targets,)
        Requested signal-to-noise ratio: std(signal) / std(noise) per target
        (0 for noise targets).
    noise_targets : ndarray of bool, shape (n_targets,)
    signal : ndarray, shape (n_samples, n_targets)
        Noise-free data (unit variance for signal targets, zeros for noise).
    noise_ar : float
        AR(1) coefficient of the noise.
    seed : int
    params : dict
        Everything else used (TR or sfreq, HRF model, kernels, ...).
    """

    layer_of_target: list
    layer_names: list[str]
    weights: list[np.ndarray]
    snr: np.ndarray
    noise_targets: np.ndarray
    signal: np.ndarray
    noise_ar: float
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    kernels: np.ndarray | None = None

    @property
    def n_targets(self) -> int:
        return int(self.noise_targets.size)

    @property
    def layer_index(self) -> np.ndarray:
        """Position of each target's planted layer in ``layer_names`` (-1 for noise targets)."""
        lookup = {n: i for i, n in enumerate(self.layer_names)}
        return np.array([-1 if n is None else lookup[n] for n in self.layer_of_target])

    def save(self, directory: str | Path) -> Path:
        """``truth.npz`` (arrays) + ``truth.json`` (names, parameters); no pickles."""
        directory = Path(directory)
        arrays = {
            "snr": np.asarray(self.snr, float),
            "noise_targets": np.asarray(self.noise_targets, bool),
            "signal": self.signal,
            "layer_index": self.layer_index,
        }
        arrays.update({f"weights/{i}": w for i, w in enumerate(self.weights)})
        if self.kernels is not None:
            arrays["kernels"] = self.kernels
        save_arrays(directory / "truth.npz", arrays)
        save_json(directory / "truth.json", {
            "layer_names": self.layer_names, "noise_ar": self.noise_ar, "seed": self.seed,
            "params": self.params,
        })
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "SimulationTruth":
        directory = Path(directory)
        side = load_json(directory / "truth.json")
        arrays = load_arrays(directory / "truth.npz")
        names = side["layer_names"]
        index = arrays["layer_index"]
        return cls(
            [None if i < 0 else names[i] for i in index], names,
            [arrays[f"weights/{i}"] for i in range(index.size)], arrays["snr"], arrays["noise_targets"],
            arrays["signal"], side["noise_ar"], side["seed"], side["params"], arrays.get("kernels"),
        )

    def __repr__(self) -> str:
        counts = {n: sum(1 for x in self.layer_of_target if x == n) for n in self.layer_names}
        return (
            f"SimulationTruth(n_targets={self.n_targets}, noise_targets={int(self.noise_targets.sum())}, "
            f"targets_per_layer={counts})"
        )
