"""Helpers shared by the plotting modules (axes, colours, inputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, EncodingResult, Recording


def new_axes(ax=None, figsize=(6.0, 4.0)):
    """Return ``(figure, axes)``: the given axes, or a fresh figure with one axes."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def finish(fig, output_file: str | Path | None):
    """Save ``fig`` to ``output_file`` when given; always return the figure."""
    if output_file is not None:
        Path(output_file).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output_file, dpi=120)
    return fig


def layer_colors(n_layers: int, cmap: str = "viridis") -> list:
    """``n_layers`` distinct colours in layer order (a sampled sequential map: layers are ordered)."""
    import matplotlib

    if n_layers < 1:
        raise BrainalignInputError("Need at least one layer to colour.")
    colormap = matplotlib.colormaps[cmap]
    if n_layers == 1:
        return [colormap(0.5)]
    return [colormap(x) for x in np.linspace(0.0, 0.95, n_layers)]


def layer_colormap(n_layers: int, cmap: str = "viridis"):
    """A discrete :class:`~matplotlib.colors.ListedColormap` with one colour per layer."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(layer_colors(n_layers, cmap), name=f"{cmap}_{n_layers}_layers")


def as_vector(values: Any, name: str) -> np.ndarray:
    """A finite-or-NaN float vector, with an error naming ``name`` otherwise."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        arr = arr.squeeze()
    if arr.ndim != 1:
        raise BrainalignInputError(f"{name} must be one value per target (1-D), got shape {np.shape(values)}.")
    return arr


def results_frame(scores: Any) -> pd.DataFrame:
    """A tidy score table from a DataFrame, an EncodingResult, a sequence of them, or a LayerSweep."""
    if isinstance(scores, pd.DataFrame):
        return scores
    if isinstance(scores, EncodingResult):
        return scores.to_frame()
    if isinstance(scores, Sequence) and scores and all(isinstance(s, EncodingResult) for s in scores):
        return pd.concat([s.to_frame() for s in scores], ignore_index=True)
    if callable(getattr(scores, "to_frame", None)):  # e.g. an encoding LayerSweep
        frame = scores.to_frame()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise BrainalignInputError(
        "Scores must be a tidy DataFrame (columns layer, target, r, ...), an EncodingResult "
        f"or a list of EncodingResults; got {type(scores).__name__}."
    )


def layer_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the model-layer rows of a score table (a layer sweep also lists its baselines, ``kind="baseline"``)."""
    if "kind" in frame.columns and (frame["kind"].astype(str) == "layer").any():
        return frame[frame["kind"].astype(str) == "layer"]
    return frame


def is_results(scores: Any) -> bool:
    """Whether ``scores`` is an EncodingResult, a list of them, or has ``to_frame`` (e.g. a LayerSweep)."""
    return isinstance(scores, EncodingResult) or callable(getattr(scores, "to_frame", None)) or (
        isinstance(scores, (list, tuple)) and bool(scores) and isinstance(scores[0], EncodingResult)
    )


def layer_matrix(
    scores: Any, layer_names: Sequence[str] | None = None, value: str = "r"
) -> tuple[np.ndarray, list[str]]:
    """Scores as an ``(n_layers, n_targets)`` matrix plus the layer names, in layer order.

    Accepts a ``{layer: values}`` mapping, a 2-D array with ``layer_names``, a list of
    :class:`~brainalign.EncodingResult` (one per layer) or a tidy table with columns
    ``layer``, ``target`` and ``value`` (averaged over folds and subjects).
    """
    if isinstance(scores, Mapping):
        names = [str(k) for k in scores]
        matrix = np.vstack([as_vector(v, f"scores of layer {k!r}") for k, v in scores.items()])
    elif isinstance(scores, pd.DataFrame) or is_results(scores):
        frame = layer_rows(results_frame(scores))
        missing = {"layer", "target", value} - set(frame.columns)
        if missing:
            raise BrainalignInputError(f"Score table lacks column(s) {sorted(missing)}; it has {list(frame.columns)}.")
        order = list(dict.fromkeys(frame["layer"].astype(str)))
        targets = list(dict.fromkeys(frame["target"].astype(str)))
        table = frame.assign(layer=frame["layer"].astype(str), target=frame["target"].astype(str))
        table = table.pivot_table(index="layer", columns="target", values=value, aggfunc="mean")
        matrix = table.loc[order, targets].to_numpy(dtype=np.float64)
        names = order
    else:
        matrix = np.asarray(scores, dtype=np.float64)
        if matrix.ndim != 2:
            raise BrainalignInputError(f"Layer scores must be 2-D (n_layers, n_targets), got shape {matrix.shape}.")
        names = [f"layer {i}" for i in range(matrix.shape[0])] if layer_names is None else [str(n) for n in layer_names]
    if layer_names is not None and not isinstance(scores, np.ndarray):
        wanted = [str(n) for n in layer_names]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise BrainalignInputError(f"Unknown layer(s) {unknown}; the scores have layers {names}.")
        matrix = matrix[[names.index(n) for n in wanted]]
        names = wanted
    if len(names) != matrix.shape[0]:
        raise BrainalignInputError(f"{len(names)} layer names for {matrix.shape[0]} rows of scores.")
    return matrix, names


def to_brain_image(values: Any, space: Any = None):
    """A NIfTI image from an image, or from per-target values and a space.

    ``space`` is a :class:`~brainalign.Recording` with a masker, or a fitted masker.
    """
    import nibabel as nib

    if isinstance(values, (str, Path)):
        return nib.load(str(values))
    if isinstance(values, nib.spatialimages.SpatialImage):
        return values
    if isinstance(values, tuple) and len(values) == 2 and space is None:
        first, second = values
        space, values = (first, second) if isinstance(first, Recording) or hasattr(first, "inverse_transform") else (second, first)
    if space is None:
        raise BrainalignInputError(
            "Per-target values need a space to go back to the brain: pass space= a Recording "
            "built with a masker (e.g. from brainalign.recordings.load_fmri) or a fitted nilearn masker."
        )
    vec = np.asarray(values, dtype=np.float32)
    if isinstance(space, Recording):
        return space.to_image(vec)
    if hasattr(space, "inverse_transform"):
        return space.inverse_transform(vec)
    raise BrainalignInputError(
        f"space must be a Recording with an image space or a fitted nilearn masker, got {type(space).__name__}."
    )
