"""Figures for unit localization: t-value distributions, units per layer, ablation deficits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError
from ._utils import finish, layer_colors, new_axes


def plot_localizer_tvalues(
    t_values: Any,
    selected: Any = None,
    *,
    threshold: float | None = None,
    bins: int = 60,
    contrast: str = "sentences > non-words",
    title: str | None = None,
    ax=None,
    output_file: str | Path | None = None,
):
    """Histogram of the localizer t-values of all units, with the selected units highlighted.

    Parameters
    ----------
    t_values : array-like
        One t-value per unit; ``(n_layers, n_units)`` arrays are flattened.
    selected : array-like of bool (same shape) or of int (flat indices), optional
        The localized units.
    threshold : float, optional
        Selection cut-off, drawn as a vertical line.
    bins : int
    contrast : str
        Axis label naming the contrast.
    title, ax, output_file :
        Title, axes to draw on, file to save to.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> t = np.random.default_rng(0).normal(size=(3, 100))
    >>> fig = plot_localizer_tvalues(t, t > 2, threshold=2)
    """
    t = np.asarray(t_values, dtype=np.float64)
    flat = t.ravel()
    finite = np.isfinite(flat)
    if not finite.any():
        raise BrainalignInputError("t_values has no finite value.")
    fig, ax = new_axes(ax, figsize=(5.5, 3.6))
    edges = np.histogram_bin_edges(flat[finite], bins=bins)
    ax.hist(flat[finite], bins=edges, color="0.7", label=f"all units (n = {int(finite.sum())})")
    if selected is not None:
        sel = np.asarray(selected)
        if sel.dtype == bool:
            if sel.shape != t.shape:
                raise BrainalignInputError(f"selected mask has shape {sel.shape}, t_values has {t.shape}.")
            mask = sel.ravel()
        else:
            mask = np.zeros(flat.size, dtype=bool)
            mask[sel.ravel().astype(int)] = True
        ax.hist(flat[mask & finite], bins=edges, color="C3", label=f"selected (n = {int(mask.sum())})")
    if threshold is not None:
        ax.axvline(float(threshold), color="k", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlabel(f"t ({contrast})")
    ax.set_ylabel("units")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return finish(fig, output_file)


def plot_units_per_layer(
    counts: Any,
    layer_names: Sequence[str] | None = None,
    *,
    fraction: bool = False,
    units_per_layer: int | Sequence[int] | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    ax=None,
    output_file: str | Path | None = None,
):
    """Bar chart of how many localized units each layer holds.

    Parameters
    ----------
    counts : mapping layer -> int, 1-D array of counts, or 2-D boolean mask
        A ``(n_layers, n_units)`` boolean selection mask is counted per row.
    layer_names : sequence of str, optional
    fraction : bool
        Show the fraction of each layer's units instead of counts (needs
        ``units_per_layer`` unless ``counts`` is a mask).
    units_per_layer : int or sequence of int, optional
    cmap : str
        One colour per layer, sampled from this map.
    title, ax, output_file :
        Title, axes to draw on, file to save to.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One bar per layer.

    Examples
    --------
    >>> fig = plot_units_per_layer({"layer.0": 3, "layer.1": 10})
    >>> len(fig.axes[0].patches)
    2
    """
    if isinstance(counts, Mapping):
        names = [str(k) for k in counts] if layer_names is None else [str(n) for n in layer_names]
        missing = [n for n in names if n not in {str(k) for k in counts}]
        if missing:
            raise BrainalignInputError(f"No count for layer(s) {missing}.")
        lookup = {str(k): v for k, v in counts.items()}
        values = np.array([lookup[n] for n in names], dtype=np.float64)
    else:
        arr = np.asarray(counts)
        if arr.ndim == 2:
            if arr.dtype != bool:
                raise BrainalignInputError("A 2-D counts argument must be a boolean (n_layers, n_units) mask.")
            values = arr.sum(axis=1).astype(np.float64)
            if units_per_layer is None:
                units_per_layer = arr.shape[1]
        elif arr.ndim == 1:
            values = arr.astype(np.float64)
        else:
            raise BrainalignInputError(f"counts must be 1-D or a 2-D mask, got shape {arr.shape}.")
        names = [f"layer.{i}" for i in range(values.size)] if layer_names is None else [str(n) for n in layer_names]
    if len(names) != values.size:
        raise BrainalignInputError(f"{len(names)} layer names for {values.size} counts.")
    if fraction:
        if units_per_layer is None:
            raise BrainalignInputError("fraction=True needs units_per_layer (or a boolean mask as counts).")
        values = values / np.broadcast_to(np.asarray(units_per_layer, dtype=np.float64), values.shape)
    fig, ax = new_axes(ax, figsize=(max(4.0, 0.45 * len(names) + 2), 3.4))
    x = np.arange(len(names))
    ax.bar(x, values, color=layer_colors(len(names), cmap), edgecolor="k", lw=0.3)
    ax.set_xticks(x, names, rotation=45 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center")
    ax.set_xlabel("layer")
    ax.set_ylabel("fraction of units selected" if fraction else "selected units")
    if title:
        ax.set_title(title)
    return finish(fig, output_file)


def _interval(values: np.ndarray, ci: float) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    centre = float(np.mean(values))
    if values.size == 1:
        return centre, centre, centre
    lo, hi = np.quantile(values, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return centre, float(lo), float(hi)


def _per_task(obj: Any, name: str) -> dict[str, np.ndarray]:
    if isinstance(obj, Mapping):
        return {str(k): np.atleast_1d(np.asarray(v, dtype=np.float64)).ravel() for k, v in obj.items()}
    arr = np.asarray(obj, dtype=np.float64)
    if arr.ndim <= 1:
        return {"deficit": np.atleast_1d(arr)}
    if arr.ndim == 2:
        return {f"task {j}": arr[:, j] for j in range(arr.shape[1])}
    raise BrainalignInputError(f"{name} must be a number, 1-D draws, (n_draws, n_tasks) or a mapping; got {arr.shape}.")


def plot_deficit(
    localized: Any,
    random: Any = None,
    *,
    ci: float = 0.95,
    value: str = "deficit",
    labels: tuple[str, str] = ("localized units", "random units"),
    tasks: Sequence[str] | None = None,
    separate: bool = False,
    title: str | None = None,
    ax=None,
    output_file: str | Path | None = None,
):
    """Bars comparing the deficit after ablating localized units with random-unit ablations.

    Parameters
    ----------
    localized : float, array, mapping task -> float/array, or DataFrame
        Deficit(s) after ablating the localized units (several values, e.g.
        seeds, give an interval).  A DataFrame needs columns ``condition``
        (``"localized"`` / ``"random"``), ``value`` and optionally ``task``;
        then ``random`` is not used.
    random : array (n_draws,), (n_draws, n_tasks) or mapping task -> array
        Deficits of random same-size ablations; bars show their mean with a
        percentile interval.
    ci : float
        Interval coverage (0.95 = 2.5th to 97.5th percentile).
    value : str
        Name of the deficit measure (axis label; DataFrame column).
    labels : (str, str)
        Legend labels of the two conditions.
    tasks : sequence of str, optional
        Which tasks (measures) to show, in order (default: all).
    separate : bool
        One panel per task with its own y scale (for measures in different
        units, e.g. loss and accuracy); ``ax`` is then not used.
    title, ax, output_file :
        Title, axes to draw on, file to save to.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Two bars per task; the fraction of random draws at least as large as
        the localized deficit is written above each pair.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_deficit(0.8, np.random.default_rng(0).normal(0.1, 0.05, 200))
    >>> len(fig.axes[0].patches)
    2
    """
    if not 0 < ci < 1:
        raise BrainalignInputError(f"ci must be in (0, 1), got {ci}.")
    if isinstance(localized, pd.DataFrame):
        frame = localized
        missing = {"condition", value} - set(frame.columns)
        if missing:
            raise BrainalignInputError(f"Deficit table lacks column(s) {sorted(missing)}; it has {list(frame.columns)}.")
        task_col = frame["task"].astype(str) if "task" in frame.columns else pd.Series("deficit", index=frame.index)
        conditions = frame["condition"].astype(str).str.lower()
        unknown = sorted(set(conditions) - {"localized", "random"})
        if unknown:
            raise BrainalignInputError(f"Unknown condition(s) {unknown}; expected 'localized' and 'random'.")
        loc = {t: frame.loc[(task_col == t) & (conditions == "localized"), value].to_numpy(float) for t in dict.fromkeys(task_col)}
        rnd = {t: frame.loc[(task_col == t) & (conditions == "random"), value].to_numpy(float) for t in dict.fromkeys(task_col)}
    else:
        if random is None:
            raise BrainalignInputError("plot_deficit needs the random-ablation deficits (random=...).")
        loc, rnd = _per_task(localized, "localized"), _per_task(random, "random")
        if len(loc) == 1 and len(rnd) > 1:
            raise BrainalignInputError(f"One localized deficit but {len(rnd)} tasks of random draws.")
        if list(loc) != list(rnd):
            if len(loc) == len(rnd):
                rnd = dict(zip(loc, rnd.values()))
            else:
                raise BrainalignInputError(f"Tasks differ: localized {list(loc)} vs random {list(rnd)}.")
    if tasks is not None:
        unknown = [t for t in tasks if t not in loc]
        if unknown:
            raise BrainalignInputError(f"Unknown task(s) {unknown}; the deficits have {list(loc)}.")
    tasks = list(loc) if tasks is None else [str(t) for t in tasks]
    if separate and len(tasks) > 1:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(tasks), figsize=(2.6 * len(tasks) + 0.8, 3.6), layout="constrained")
        for i, (task, panel) in enumerate(zip(tasks, axes)):
            plot_deficit({task: loc[task]}, {task: rnd[task]}, ci=ci, value=value, labels=labels, ax=panel)
            if i:
                panel.set_ylabel("")
                panel.get_legend().remove()
        if title:
            fig.suptitle(title)
        return finish(fig, output_file)
    fig, ax = new_axes(ax, figsize=(max(3.5, 1.6 * len(tasks) + 1.5), 3.6))
    x = np.arange(len(tasks))
    width = 0.38
    tops = np.full(len(tasks), -np.inf)
    for offset, data, color, label in ((-width / 2, loc, "C3", labels[0]), (width / 2, rnd, "0.6", labels[1])):
        stats = np.array([_interval(data[t], ci) for t in tasks])
        tops = np.fmax(tops, np.nanmax(stats, axis=1))
        centre = stats[:, 0]
        err = np.vstack([centre - stats[:, 1], stats[:, 2] - centre])
        ax.bar(x + offset, centre, width, yerr=err, capsize=4, color=color, edgecolor="k", lw=0.3, label=label)
    for i, t in enumerate(tasks):
        draws = rnd[t][np.isfinite(rnd[t])]
        if draws.size > 1 and np.isfinite(np.nanmean(loc[t])):
            p = (1 + np.sum(draws >= np.nanmean(loc[t]))) / (1 + draws.size)
            top = max(tops[i], 0.0)
            ax.annotate(f"p = {p:.3g}", (x[i], top), xytext=(0, 6), textcoords="offset points", ha="center",
                        fontsize=8, annotation_clip=False)
    ax.set_xticks(x, tasks)
    ax.set_ylabel(f"{value} (mean, {int(round(ci * 100))}% interval)")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.legend(fontsize=8)
    ax.margins(y=0.15)
    if title:
        ax.set_title(title)
    return finish(fig, output_file)
