"""Figures of multimodal fits: variance partitioning per modality and the layer x modality map."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError
from ._utils import finish, new_axes

#: Qualitative colours of modalities (modalities are not ordered) and of the shared part.
_MODALITY_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_SHARED_COLOR = "#7f7f7f"


def _partition_table(result: Any) -> tuple[pd.DataFrame, list[str]]:
    """The per-target scores and the modality names of a MultimodalResult or its ``scores`` table."""
    scores = getattr(result, "scores", result)
    if not isinstance(scores, pd.DataFrame):
        raise BrainalignInputError(
            f"Expected a MultimodalResult or its scores DataFrame, got {type(result).__name__}."
        )
    modalities = [c.split(":", 1)[1] for c in scores.columns if c.startswith("unique:")]
    if not modalities or "shared" not in scores or "joint" not in scores:
        raise BrainalignInputError(
            "The scores hold no variance partition (columns joint, unique:<modality>, shared); fit with "
            "brainalign.encoding.fit_multimodal(..., partition=True) and at least two modalities."
        )
    return scores, modalities


def plot_variance_partition(
    result: Any,
    *,
    groups: Sequence[str] | None = None,
    threshold: float | None = 0.0,
    title: str | None = None,
    output_file: str | Path | None = None,
):
    """Unique and shared held-out variance of each modality, per group of targets and per target.

    Left: for each group of targets (by default the modality that explains
    each target best), the mean unique R² of every modality stacked with the
    shared R², whose sum is the joint R².  Right: the same partition for
    every target, sorted by group then by joint R².

    Parameters
    ----------
    result : MultimodalResult or DataFrame
        From :func:`brainalign.encoding.fit_multimodal` (or its ``scores``).
    groups : sequence of str, optional
        A label per target (e.g. the planted modality of a simulation);
        default ``result.best_modality()``.
    threshold : float or None
        Only targets whose joint R² exceeds it (``None``: all).
    title : str, optional
    output_file : path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    scores, modalities = _partition_table(result)
    if groups is None:
        if not hasattr(result, "best_modality"):
            raise BrainalignInputError("Pass groups= (one label per target) with a scores table.")
        groups = result.best_modality()
    groups = np.asarray(groups, dtype=object)
    if groups.size != len(scores):
        raise BrainalignInputError(f"groups has {groups.size} labels for {len(scores)} targets.")
    keep = np.ones(len(scores), bool) if threshold is None else scores["joint"].to_numpy() > threshold
    if not keep.any():
        raise BrainalignInputError(f"No target has a joint R² above threshold={threshold}.")
    parts = [f"unique:{m}" for m in modalities] + ["shared"]
    colors = [_MODALITY_COLORS[i % len(_MODALITY_COLORS)] for i in range(len(modalities))] + [_SHARED_COLOR]
    labels = [f"unique {m}" for m in modalities] + ["shared"]
    table = scores.loc[keep, parts]
    group_names = [g for g in dict.fromkeys(groups[keep])]

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.0), layout="constrained",
                                  gridspec_kw={"width_ratios": [1, 2]})
    means = table.groupby(groups[keep]).mean().reindex(group_names)
    x = np.arange(len(group_names))
    base_pos, base_neg = np.zeros(len(x)), np.zeros(len(x))
    for part, colour, label in zip(parts, colors, labels):
        values = means[part].to_numpy()
        pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
        ax.bar(x, pos, bottom=base_pos, color=colour, label=label, width=0.7)
        ax.bar(x, neg, bottom=base_neg, color=colour, width=0.7)
        base_pos, base_neg = base_pos + pos, base_neg + neg
    ax.plot(x, scores.loc[keep, "joint"].groupby(groups[keep]).mean().reindex(group_names).to_numpy(), "k_",
            markersize=22, label="joint")
    ax.set_xticks(x, [f"{g}\n(n={int((groups[keep] == g).sum())})" for g in group_names])
    ax.set_ylabel("held-out R²")
    ax.set_title("mean per group of targets")
    ax.axhline(0, color="k", lw=0.5)

    order = np.lexsort((-scores.loc[keep, "joint"].to_numpy(), [group_names.index(g) for g in groups[keep]]))
    stacked = table.to_numpy()[order]
    pos_base = np.zeros(stacked.shape[0])
    neg_base = np.zeros(stacked.shape[0])
    xs = np.arange(stacked.shape[0])
    for j, colour in enumerate(colors):
        v = stacked[:, j]
        ax2.bar(xs, np.clip(v, 0, None), bottom=pos_base, color=colour, width=1.0, linewidth=0)
        ax2.bar(xs, np.clip(v, None, 0), bottom=neg_base, color=colour, width=1.0, linewidth=0)
        pos_base += np.clip(v, 0, None)
        neg_base += np.clip(v, None, 0)
    edges = np.cumsum([int((groups[keep] == g).sum()) for g in group_names])[:-1]
    for edge in edges:
        ax2.axvline(edge - 0.5, color="k", lw=0.8)
    ax2.set_xlim(-0.5, stacked.shape[0] - 0.5)
    ax2.set_xlabel("targets (sorted by group, then joint R²)")
    ax2.set_title("per target")
    ax2.axhline(0, color="k", lw=0.5)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", frameon=False)
    if title:
        fig.suptitle(title)
    return finish(fig, output_file)


def plot_layer_modality_map(
    result: Any,
    *,
    threshold: float | None = 0.0,
    normalize: bool = True,
    cmap: str = "magma",
    ax=None,
    title: str | None = None,
    output_file: str | Path | None = None,
):
    """Heat map of how many targets each layer of each modality explains best (modalities x layers).

    Parameters
    ----------
    result : MultimodalResult or DataFrame
        A result, or its ``layer_modality_map()`` table (modalities x layers).
    threshold : float or None
        Passed to ``layer_modality_map`` (joint R² a target must exceed).
    normalize : bool
        Show fractions of the counted targets instead of counts.
    cmap : str
    ax : matplotlib Axes, optional
    title : str, optional
    output_file : path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = result.layer_modality_map(threshold=threshold) if hasattr(result, "layer_modality_map") else result
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise BrainalignInputError("Expected a MultimodalResult or a non-empty modalities x layers table.")
    values = table.to_numpy(dtype=float)
    if normalize and values.sum() > 0:
        values = values / values.sum()
    fig, ax = new_axes(ax, figsize=(1.2 + 0.9 * table.shape[1], 1.0 + 0.6 * table.shape[0]))
    image = ax.imshow(values, cmap=cmap, aspect="auto", vmin=0.0)
    ax.set_xticks(range(table.shape[1]), list(table.columns))
    ax.set_yticks(range(table.shape[0]), list(table.index))
    ax.set_xlabel("layer")
    ax.set_ylabel("modality")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.0%}" if normalize else f"{int(v)}", ha="center", va="center",
                color="w" if v < 0.6 * values.max() else "k", fontsize=9)
    fig.colorbar(image, ax=ax, label="fraction of targets" if normalize else "targets")
    ax.set_title(title or "best band per target")
    return finish(fig, output_file)
