"""Unit masks: which units of which layer were selected, with their statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, content_key, load_arrays, load_json, save_arrays, save_json

__all__ = ["UnitMask", "n_to_select", "random_unit_mask", "select_units", "welch_t"]


@dataclass(eq=False)
class UnitMask:
    """Selected units per layer, with the statistics and parameters that chose them.

    Attributes
    ----------
    mask : dict of str to ndarray of bool, shape (n_units_in_layer,)
        Selected units of each layer (layer order = model order).
    t_values, p_values : dict of str to ndarray of float
        Welch t statistic (condition A - B) and its one-sided p-value (A > B)
        of every unit.
    params : dict
        Every parameter of the selection (model fingerprint, stimuli hash,
        unit type, pooling, token budget, fraction, scope, FDR level ...).
    key : str
        Content key of the parameters that change the mask.
    unit_means : dict of str to ndarray or None
        Mean activation of every unit over all stimulus tokens (used by
        mean-ablation).

    Examples
    --------
    >>> import numpy as np
    >>> m = UnitMask({"layer.0": np.array([True, False])}, {"layer.0": np.array([3.0, 0.1])},
    ...              {"layer.0": np.array([0.01, 0.5])}, {"fraction": 0.5})
    >>> m.n_selected, m.n_units
    (1, 2)
    """

    mask: Mapping[str, np.ndarray]
    t_values: Mapping[str, np.ndarray]
    p_values: Mapping[str, np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    unit_means: Mapping[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if not self.mask:
            raise BrainalignInputError("A UnitMask needs at least one layer.")
        self.mask = {str(k): np.asarray(v, dtype=bool).ravel() for k, v in self.mask.items()}
        for name in ("t_values", "p_values", "unit_means"):
            value = getattr(self, name)
            if value is None:
                continue
            value = {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in value.items()}
            if list(value) != self.layers:
                raise BrainalignInputError(f"{name} has layers {list(value)} but the mask has {self.layers}.")
            for layer in self.layers:
                if value[layer].shape != self.mask[layer].shape:
                    raise BrainalignInputError(
                        f"{name}[{layer!r}] has {value[layer].size} units but the mask has {self.mask[layer].size}."
                    )
            setattr(self, name, value)
        self.params = dict(self.params)
        if not self.key:
            self.key = content_key(self.params)

    # ----------------------------------------------------------------- views
    @property
    def layers(self) -> list[str]:
        return list(self.mask)

    @property
    def n_selected(self) -> int:
        return int(sum(m.sum() for m in self.mask.values()))

    @property
    def n_units(self) -> int:
        return int(sum(m.size for m in self.mask.values()))

    @property
    def n_selected_per_layer(self) -> dict[str, int]:
        return {layer: int(m.sum()) for layer, m in self.mask.items()}

    @property
    def indices(self) -> dict[str, np.ndarray]:
        """Selected unit indices of every layer."""
        return {layer: np.flatnonzero(m) for layer, m in self.mask.items()}

    def flat_mask(self) -> np.ndarray:
        """All layers' masks concatenated in layer order."""
        return np.concatenate([self.mask[layer] for layer in self.layers])

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer``, ``n_units``, ``n_selected``, ``fraction_selected``."""
        rows = [
            {"layer": layer, "n_units": m.size, "n_selected": int(m.sum()), "fraction_selected": m.mean()}
            for layer, m in self.mask.items()
        ]
        return pd.DataFrame(rows)

    def units_frame(self) -> pd.DataFrame:
        """One row per unit: ``layer``, ``unit``, ``t``, ``p``, ``selected``."""
        parts = [
            pd.DataFrame({"layer": layer, "unit": np.arange(m.size), "t": self.t_values[layer],
                          "p": self.p_values[layer], "selected": m})
            for layer, m in self.mask.items()
        ]
        return pd.concat(parts, ignore_index=True)

    # --------------------------------------------------------------- storage
    def save(self, directory: str | Path) -> Path:
        """Write ``mask.npz`` (arrays) and ``mask.json`` (params, key, layers)."""
        directory = Path(directory)
        arrays = {}
        for layer in self.layers:
            arrays[f"mask/{layer}"] = self.mask[layer]
            arrays[f"t/{layer}"] = self.t_values[layer]
            arrays[f"p/{layer}"] = self.p_values[layer]
            if self.unit_means is not None:
                arrays[f"mean/{layer}"] = self.unit_means[layer]
        save_arrays(directory / "mask.npz", arrays)
        save_json(directory / "mask.json", {"layers": self.layers, "key": self.key, "params": self.params,
                                            "n_selected": self.n_selected, "n_units": self.n_units})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "UnitMask":
        directory = Path(directory)
        for name in ("mask.npz", "mask.json"):
            if not (directory / name).is_file():
                raise BrainalignInputError(f"{directory} holds no saved UnitMask ({name} is missing).")
        side = load_json(directory / "mask.json")
        arrays = load_arrays(directory / "mask.npz")
        layers = side["layers"]
        means = {l: arrays[f"mean/{l}"] for l in layers} if f"mean/{layers[0]}" in arrays else None
        return cls(
            {l: arrays[f"mask/{l}"] for l in layers},
            {l: arrays[f"t/{l}"] for l in layers},
            {l: arrays[f"p/{l}"] for l in layers},
            side["params"],
            side["key"],
            means,
        )

    def __repr__(self) -> str:
        return (
            f"UnitMask(unit_type={self.params.get('unit_type')!r}, n_selected={self.n_selected}, "
            f"n_units={self.n_units}, layers={len(self.layers)}, key={self.key!r})"
        )


# ------------------------------------------------------------------ statistics
def welch_t(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Welch t (A - B) and one-sided p (A > B) of every column.

    A unit constant within both conditions gets ``t = +/-inf`` (p = 0 or 1)
    when the condition means differ (perfect separation) and ``t = nan``,
    ``p = 1`` when they do not (it is never selected).
    """
    from scipy import stats

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise BrainalignInputError(
            f"A t-test needs at least 2 stimuli per condition, got {a.shape[0]} and {b.shape[0]}."
        )
    na, nb = a.shape[0], b.shape[0]
    diff = a.mean(axis=0) - b.mean(axis=0)
    va, vb = a.var(axis=0, ddof=1) / na, b.var(axis=0, ddof=1) / nb
    se2 = va + vb
    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff / np.sqrt(se2)
        df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    # relative tolerance: float32 activations summed over stimuli are never exactly equal
    scale = np.maximum(np.abs(a).max(axis=0), np.abs(b).max(axis=0))
    flat = se2 <= (1e-12 * np.maximum(scale, 1e-30)) ** 2
    separated = np.abs(diff) > 1e-6 * np.maximum(scale, 1e-30)
    infinite = np.where(diff > 0, np.inf, -np.inf)
    t = np.where(flat, np.where(separated, infinite, np.nan), t)
    p = np.where(np.isnan(t), 1.0, stats.t.sf(t, np.where(np.isfinite(df), df, na + nb - 2)))
    return t, p


def n_to_select(fraction: float, n_units: int) -> int:
    """Units kept for ``fraction`` of ``n_units``: round half up, at least one.

    Examples
    --------
    >>> n_to_select(0.01, 6 * 384)  # 23.04 -> 23
    23
    """
    return max(1, int(np.floor(fraction * n_units + 0.5)))


def _top(t: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` largest finite t (ties: lower index first)."""
    score = np.where(np.isnan(t), -np.inf, t)
    order = np.argsort(-score, kind="stable")[:k]
    order = order[~np.isnan(t[order]) & (t[order] > -np.inf)]
    out = np.zeros(t.size, dtype=bool)
    out[order] = True
    return out


def select_units(
    t_values: Mapping[str, np.ndarray],
    p_values: Mapping[str, np.ndarray],
    *,
    fraction: float = 0.01,
    scope: str = "all",
    fdr_alpha: float | None = None,
) -> dict[str, np.ndarray]:
    """Top ``fraction`` of units by t, across all layers or within each layer.

    With ``fdr_alpha``, units must also pass Benjamini-Hochberg at that level
    (over all units for ``scope="all"``, within the layer for
    ``"per_layer"``), so fewer than the top-k may remain.
    """
    from scipy import stats

    if not (0 < fraction <= 1):
        raise BrainalignInputError(f"fraction must be in (0, 1], got {fraction!r}.")
    if scope not in ("all", "per_layer"):
        raise BrainalignInputError(f"scope must be 'all' or 'per_layer', got {scope!r}.")
    if fdr_alpha is not None and not (0 < fdr_alpha < 1):
        raise BrainalignInputError(f"fdr_alpha must be in (0, 1) or None, got {fdr_alpha!r}.")
    layers = list(t_values)
    groups = [layers] if scope == "all" else [[layer] for layer in layers]
    out: dict[str, np.ndarray] = {}
    for group in groups:
        t = np.concatenate([np.asarray(t_values[l], dtype=np.float64) for l in group])
        keep = _top(t, n_to_select(fraction, t.size))
        if fdr_alpha is not None:
            p = np.concatenate([np.asarray(p_values[l], dtype=np.float64) for l in group])
            keep &= stats.false_discovery_control(p, method="bh") <= fdr_alpha
        start = 0
        for layer in group:
            n = np.asarray(t_values[layer]).size
            out[layer] = keep[start : start + n]
            start += n
    return out


def random_unit_mask(mask: UnitMask, seed: int = 0, *, match: str = "per_layer") -> UnitMask:
    """A control mask of as many random *non-selected* units as ``mask`` selects.

    Parameters
    ----------
    mask : UnitMask
    seed : int
    match : {"per_layer", "total"}
        ``"per_layer"`` draws the same count in every layer (default: keeps
        the layer profile); ``"total"`` draws the same total anywhere.

    Examples
    --------
    >>> import numpy as np
    >>> m = UnitMask({"layer.0": np.array([True, False, False])}, {"layer.0": np.zeros(3)},
    ...              {"layer.0": np.ones(3)})
    >>> r = random_unit_mask(m, seed=0)
    >>> r.n_selected, bool((r.mask["layer.0"] & m.mask["layer.0"]).any())
    (1, False)
    """
    if match not in ("per_layer", "total"):
        raise BrainalignInputError(f"match must be 'per_layer' or 'total', got {match!r}.")
    rng = np.random.default_rng(seed)
    new: dict[str, np.ndarray] = {}
    if match == "per_layer":
        for layer, m in mask.mask.items():
            free = np.flatnonzero(~m)
            if free.size < m.sum():
                raise BrainalignInputError(
                    f"Layer {layer!r} has {m.sum()} selected units but only {free.size} others to draw from."
                )
            pick = np.zeros(m.size, dtype=bool)
            pick[rng.choice(free, size=int(m.sum()), replace=False)] = True
            new[layer] = pick
    else:
        flat = mask.flat_mask()
        free = np.flatnonzero(~flat)
        if free.size < flat.sum():
            raise BrainalignInputError(f"{flat.sum()} units are selected but only {free.size} others exist.")
        pick = np.zeros(flat.size, dtype=bool)
        pick[rng.choice(free, size=int(flat.sum()), replace=False)] = True
        start = 0
        for layer, m in mask.mask.items():
            new[layer] = pick[start : start + m.size]
            start += m.size
    params = {**mask.params, "control": {"of": mask.key, "seed": int(seed), "match": match}}
    return UnitMask(new, mask.t_values, mask.p_values, params, content_key(params), mask.unit_means)
