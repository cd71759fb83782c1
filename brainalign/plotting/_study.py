"""Figures of a study: several models compared on one axis, subjects and the group average apart."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Mapping

import numpy as np
import pandas as pd

from ..core import BrainalignInputError
from ._profiles import t_halfwidth
from ._utils import finish, new_axes

Recordings = Literal["subjects", "group"]


def _recordings(table: pd.DataFrame, recordings: Recordings) -> pd.DataFrame:
    """Rows of the subjects or of the group average (``kind == "group"``); never both pooled."""
    if recordings not in ("subjects", "group"):
        raise BrainalignInputError(f"recordings must be 'subjects' or 'group', got {recordings!r}.")
    if "kind" in table.columns:
        is_group = table["kind"].astype(str) == "group"
    else:
        is_group = table["subject"].astype(str) == "group"
    return table[is_group] if recordings == "group" else table[~is_group]


def model_profiles(table: pd.DataFrame, *, recordings: Recordings = "subjects", value: str = "r") -> pd.DataFrame:
    """Mean ``value`` per model and layer (over targets), mean and 95 % CI over subjects, by normalised depth.

    With ``recordings="subjects"`` each subject's mean over targets is one
    unit and ``ci_low`` / ``ci_high`` are the t interval over subjects;
    ``recordings="group"`` summarises the group-average recording alone (its
    interval is the mean of the per-target bootstrap bounds, for ``gain``).
    ``baseline`` is the mean r of the baseline alone over the same units.

    Examples
    --------
    >>> t = pd.DataFrame({"model": "m", "layer": ["a", "a", "b", "b"], "depth": [0, 0, 1, 1],
    ...                   "subject": ["s1", "s2"] * 2, "kind": "subject", "r": [0.1, 0.2, 0.3, 0.4]})
    >>> model_profiles(t)[["layer", "mean", "n"]].values.tolist()
    [['a', 0.15000000000000002, 2], ['b', 0.35, 2]]
    """
    needed = {"model", "layer", "depth", "subject", value}
    missing = needed - set(table.columns)
    if missing:
        raise BrainalignInputError(f"A study table needs columns {sorted(needed)}; missing {sorted(missing)}.")
    rows = _recordings(table, recordings)
    keys = ["model", "layer", "depth"]
    has_base = "r_baseline" in rows.columns
    per_subject = rows.groupby(keys + ["subject"], sort=False)[[value] + (["r_baseline"] if has_base else [])].mean()
    out = []
    for key, frame in per_subject.groupby(level=keys, sort=False):
        x = frame[value].to_numpy(dtype=np.float64)
        x = x[np.isfinite(x)]
        mean = float(x.mean()) if x.size else np.nan
        half = t_halfwidth(x)
        low, high = mean - half, mean + half
        if recordings == "group" and value == "gain" and {"ci_low", "ci_high"} <= set(rows.columns):
            sel = rows[(rows["model"] == key[0]) & (rows["layer"] == key[1])]
            low, high = float(sel["ci_low"].mean()), float(sel["ci_high"].mean())
        out.append(dict(zip(keys, key), mean=mean, ci_low=low, ci_high=high, n=int(x.size),
                        baseline=float(frame["r_baseline"].mean()) if has_base else np.nan))
    columns = keys + ["mean", "ci_low", "ci_high", "n", "baseline"]
    frame = pd.DataFrame(out, columns=columns)
    # models in the study's order (as in the report's tables), layers by depth
    rank = frame["model"].map({m: i for i, m in enumerate(dict.fromkeys(table["model"]))})
    return frame.assign(_rank=rank).sort_values(["_rank", "depth"], kind="stable").drop(columns="_rank").reset_index(
        drop=True)


def _draw(ax, profiles: pd.DataFrame, marker: str = "o"):
    for model, frame in profiles.groupby("model", sort=False):
        line, = ax.plot(frame["depth"], frame["mean"], marker=marker, label=f"{model} ({len(frame)} layers)")
        if np.isfinite(frame["ci_low"]).any():
            ax.fill_between(frame["depth"], frame["ci_low"], frame["ci_high"], color=line.get_color(), alpha=0.2,
                            linewidth=0)


def plot_model_profiles(table: pd.DataFrame, *, recordings: Recordings = "subjects",
                        ceiling: float | Mapping[str, float] | None = None, ax=None, title: str | None = None,
                        output_file: str | Path | None = None):
    """Layer profiles of every model of a study on one axis, with the baseline (and noise ceiling).

    Mean r over targets against normalised depth (0 = embeddings, 1 = last
    block), band = 95 % CI over subjects.  The baseline alone (e.g. word rate
    + sound power), fitted on the same folds, is drawn as a dotted line: a
    layer profile only means something against it.  The y axis is fitted to
    the data, not forced from 0.

    Parameters
    ----------
    table : pandas.DataFrame
        The study table (``study_scores.tsv``): columns ``model``, ``layer``,
        ``depth``, ``subject``, ``r`` (and ``kind``, ``r_baseline``).
    recordings : {"subjects", "group"}
        The subjects (default), or the group-average recording on its own:
        a group average is never pooled with the subjects.
    ceiling : float or mapping model -> float, optional
        Noise ceiling (mean over targets), drawn dashed.
    ax, title, output_file :
        Axes to draw on, title, file to save to.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> t = pd.DataFrame({"model": "m", "layer": ["a", "a", "b", "b"], "depth": [0, 0, 1, 1],
    ...                   "subject": ["s1", "s2"] * 2, "kind": "subject", "r": [0.1, 0.2, 0.3, 0.4],
    ...                   "r_baseline": 0.15})
    >>> fig = plot_model_profiles(t)
    >>> [line.get_linestyle() for line in fig.axes[0].lines]
    ['-', ':']
    """
    profiles = model_profiles(table, recordings=recordings)
    fig, ax = new_axes(ax, figsize=(6.5, 4.0))
    _draw(ax, profiles)
    baseline = profiles.groupby("model", sort=False)["baseline"].first().dropna()
    if len(baseline) and np.ptp(baseline.to_numpy()) < 1e-9:  # one baseline shared by all models
        ax.axhline(float(baseline.iloc[0]), ls=":", color="0.3", lw=1.2, label="baseline alone")
    else:
        for i, (model, level) in enumerate(baseline.items()):
            ax.axhline(float(level), ls=":", color=f"C{i % 10}", lw=1.2, label=f"{model}: baseline alone")
    if ceiling is not None:
        levels = ceiling.items() if isinstance(ceiling, Mapping) else [("noise ceiling", ceiling)]
        for name, level in levels:
            ax.axhline(float(level), ls="--", color="0.3", lw=1, label=str(name) if name == "noise ceiling"
                       else f"{name}: noise ceiling")
    ax.set_xlabel("layer depth (0 = embeddings, 1 = last block)")
    ax.set_ylabel("mean r over targets")
    ax.set_xlim(-0.02, 1.02)
    ax.legend(frameon=False, fontsize="small")
    n = int(profiles["n"].max()) if len(profiles) else 0
    who = f"95% CI over {n} subject(s)" if recordings == "subjects" else "group-average recording"
    ax.set_title(title or f"layer profiles, {who}")
    return finish(fig, output_file)


def plot_gain_profile(table: pd.DataFrame, *, ax=None, title: str | None = None,
                      output_file: str | Path | None = None):
    """Gain in r over the baseline per layer: subjects (mean ± 95 % CI) and the group average apart.

    Left panel: each subject's gain averaged over targets, mean and t
    interval over subjects.  Right panel (when the study has a group
    average): the group-average recording's gain with its paired
    block-bootstrap interval (mean of the per-target bounds).  A layer adds
    to the baseline only where its band lies above the 0 line.

    Parameters
    ----------
    table : pandas.DataFrame
        The study table, with ``gain`` (and ``ci_low`` / ``ci_high`` for the group).
    ax : matplotlib Axes or sequence of two, optional
    title, output_file :
        Figure title, file to save to.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> t = pd.DataFrame({"model": "m", "layer": ["a", "a", "b", "b"], "depth": [0, 0, 1, 1],
    ...                   "subject": ["s1", "s2"] * 2, "kind": "subject", "gain": [0.0, 0.01, 0.02, 0.03]})
    >>> len(plot_gain_profile(t).axes)
    1
    """
    if "gain" not in table.columns or not table["gain"].notna().any():
        raise BrainalignInputError("The study table has no gain column (no baseline was fitted): no gain to plot.")
    parts = [(name, _recordings(table, name)) for name in ("subjects", "group")]
    parts = [(name, rows) for name, rows in parts if len(rows) and rows["gain"].notna().any()]
    if ax is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(parts), figsize=(6.0 * len(parts), 4.0), layout="constrained",
                                 squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        fig = axes[0].figure
    for axis, (name, rows) in zip(axes, parts):
        profiles = model_profiles(rows, recordings=name, value="gain")
        _draw(axis, profiles, marker="o" if name == "subjects" else "s")
        axis.axhline(0, color="0.3", lw=1)
        axis.set_xlabel("layer depth (0 = embeddings, 1 = last block)")
        axis.set_xlim(-0.02, 1.02)
        n = int(profiles["n"].max()) if len(profiles) else 0
        axis.set_title(f"{n} subject(s): mean, 95% CI over subjects" if name == "subjects"
                       else "group average: 95% block-bootstrap CI")
        axis.legend(frameon=False, fontsize="small")
    axes[0].set_ylabel("gain in r over the baseline")
    if title:
        fig.suptitle(title)
    return finish(fig, output_file)
