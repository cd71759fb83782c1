"""Layer profiles, model-vs-baseline scatter and predicted time courses."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError
from ._utils import as_vector, finish, is_results, layer_matrix, layer_rows, new_axes, results_frame

ErrorKind = Literal["sem", "ci", "std"]


def t_halfwidth(values: np.ndarray, level: float = 0.95) -> float:
    """Half-width of the t confidence interval of the mean of the finite ``values`` (NaN below two)."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = values.size
    if n < 2:
        return np.nan
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(values, ddof=1) / np.sqrt(n))


def _spread(values: np.ndarray, error: ErrorKind | None) -> float:
    values = values[np.isfinite(values)]
    n = values.size
    if error is None or n < 2:
        return 0.0
    std = float(np.std(values, ddof=1))
    if error == "std":
        return std
    if error == "sem":
        return std / np.sqrt(n)
    if error == "ci":
        return t_halfwidth(values)
    raise BrainalignInputError(f"error must be 'sem', 'ci', 'std' or None, got {error!r}.")


def layer_profile_table(
    scores: Any,
    *,
    value: str = "r",
    group: str | None = "target",
    across: str | None = None,
    error: ErrorKind | None = "sem",
    layer_order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean and error of a score per (group, layer), the numbers behind :func:`plot_layer_profile`.

    Rows are first averaged within each ``across`` unit (e.g. over folds of a
    subject), then summarised across units.

    Parameters
    ----------
    scores : DataFrame, EncodingResult, list of EncodingResult or LayerSweep
        Tidy scores with columns ``layer`` and ``value`` (``scores.tsv`` format).
        Rows of baselines (``kind == "baseline"``) are left out.
    value : str
        Score column (``"r"`` or ``"r2"``).
    group : str or None
        One profile per value of this column (e.g. ``"target"`` = ROI); ``None``
        pools all rows into one profile.
    across : str or None
        Column whose units give the error bars.  Default: ``"subject"`` when
        there are several subjects, else ``"fold"`` when grouping by target,
        else ``"target"``.
    error : {"sem", "ci", "std"} or None
        Standard error of the mean, 95 % t confidence interval, or standard deviation.
    layer_order : sequence of str, optional
        Layers to show, in order (default: order of first appearance).

    Returns
    -------
    DataFrame
        Columns ``group``, ``layer``, ``mean``, ``error``, ``n``.
    """
    frame = layer_rows(results_frame(scores)).copy()
    missing = {"layer", value} - set(frame.columns)
    if missing:
        raise BrainalignInputError(f"Score table lacks column(s) {sorted(missing)}; it has {list(frame.columns)}.")
    frame["layer"] = frame["layer"].astype(str)
    if group is not None and group not in frame.columns:
        raise BrainalignInputError(f"No column {group!r} to group by; columns are {list(frame.columns)}.")
    if across is None:
        if "subject" in frame.columns and frame["subject"].nunique() > 1:
            across = "subject"
        elif group == "target" and "fold" in frame.columns:
            across = "fold"
        elif "target" in frame.columns and group != "target":
            across = "target"
    if across is not None and across not in frame.columns:
        raise BrainalignInputError(f"No column {across!r} for error bars; columns are {list(frame.columns)}.")
    group_col = "_group"
    frame[group_col] = "all" if group is None else frame[group].astype(str)
    keys = [group_col, "layer"] + ([across] if across else [])
    units = frame.groupby(keys, sort=False, dropna=False)[value].mean().reset_index()
    order = list(layer_order) if layer_order is not None else list(dict.fromkeys(frame["layer"]))
    unknown = [layer for layer in order if layer not in set(frame["layer"])]
    if unknown:
        raise BrainalignInputError(f"Unknown layer(s) {unknown}; the scores have {sorted(set(frame['layer']))}.")
    rows = []
    for group_value in dict.fromkeys(frame[group_col]):
        sub = units[units[group_col] == group_value]
        for layer in order:
            vals = sub.loc[sub["layer"] == layer, value].to_numpy(dtype=np.float64)
            rows.append({"group": group_value, "layer": layer, "mean": float(np.nanmean(vals)) if vals.size else np.nan,
                         "error": _spread(vals, error), "n": int(np.isfinite(vals).sum())})
    return pd.DataFrame(rows)


def plot_layer_profile(
    scores: Any,
    *,
    value: str = "r",
    group: str | None = "target",
    across: str | None = None,
    error: ErrorKind | None = "sem",
    layer_order: Sequence[str] | None = None,
    ceiling: float | Mapping[str, float] | None = None,
    baseline: float | Mapping[str, float] | None = None,
    max_groups: int = 12,
    title: str | None = None,
    ax=None,
    output_file: str | Path | None = None,
):
    """Score per layer, one line per ROI (or pooled), with error bars.

    Parameters
    ----------
    scores : DataFrame, EncodingResult, list of EncodingResult, LayerSweep, mapping or ndarray
        Tidy scores (``scores.tsv``), or ``{layer: values}`` / an
        ``(n_layers, n_targets)`` array, pooled into one profile with error bars
        across targets.
    value, group, across, error, layer_order :
        See :func:`layer_profile_table`.
    ceiling, baseline : float or mapping group -> float, optional
        Drawn as dashed (ceiling) and dotted (baseline) lines in the group's colour.
    max_groups : int
        More groups than this raise an error (use ``group=None`` for voxels).
    title, ax, output_file :
        Figure title, axes to draw on, file to save to.

    Returns
    -------
    figure : matplotlib.figure.Figure
        One errorbar container per group on the axes.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_layer_profile({"layer.0": [0.1, 0.2], "layer.1": [0.3, 0.35]})
    >>> len(fig.axes[0].containers)
    1
    """
    if not isinstance(scores, pd.DataFrame) and not is_results(scores):
        matrix, names = layer_matrix(scores, layer_order)
        scores = pd.DataFrame(
            {"layer": np.repeat(names, matrix.shape[1]), "target": np.tile(np.arange(matrix.shape[1]), len(names)),
             value: matrix.ravel()}
        )
        group, across, layer_order = None, "target", names
    table = layer_profile_table(scores, value=value, group=group, across=across, error=error, layer_order=layer_order)
    groups = list(dict.fromkeys(table["group"]))
    if len(groups) > max_groups:
        raise BrainalignInputError(
            f"{len(groups)} groups in column {group!r} is too many lines for one plot (max_groups={max_groups}); "
            "pass group=None to pool them, or select a few targets first."
        )
    fig, ax = new_axes(ax, figsize=(6.5, 4.0))
    layers = list(dict.fromkeys(table["layer"]))
    x = np.arange(len(layers))
    for i, group_value in enumerate(groups):
        sub = table[table["group"] == group_value].set_index("layer").loc[layers]
        color = f"C{i % 10}"
        label = None if group is None else str(group_value)
        ax.errorbar(x, sub["mean"], yerr=sub["error"], marker="o", ms=4, capsize=3, color=color, label=label)
        for level, style in ((ceiling, "--"), (baseline, ":")):
            if level is None:
                continue
            if isinstance(level, Mapping):
                y = level.get(group_value)
                if y is not None and np.isfinite(y):
                    ax.axhline(float(y), ls=style, color=color if group is not None else "0.4", lw=1)
            elif i == 0 and np.isfinite(level):
                ax.axhline(float(level), ls=style, color="0.4", lw=1)
    ax.set_xticks(x, layers, rotation=45 if len(layers) > 4 else 0, ha="right" if len(layers) > 4 else "center")
    ax.set_xlabel("layer")
    bar = {"sem": "± SEM", "ci": "± 95% CI", "std": "± SD", None: ""}[error]
    ax.set_ylabel(f"{value} (mean {bar})".replace(" )", ")"))
    # no line at 0: it would stretch the y axis down to 0 and flatten differences between layers
    if group is not None and len(groups) > 1:
        ax.legend(fontsize=8, title=group, ncol=2 if len(groups) > 6 else 1)
    notes = [n for n, level in (("dashed: noise ceiling", ceiling), ("dotted: baseline", baseline)) if level is not None]
    if notes:
        ax.text(0.99, 0.01, "; ".join(notes), transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.3")
    if title:
        ax.set_title(title)
    return finish(fig, output_file)


def plot_score_vs_baseline(
    model_scores: Any,
    baseline_scores: Any,
    *,
    target_names: Sequence[str] | None = None,
    ceiling: Any = None,
    model_label: str = "model",
    baseline_label: str = "baseline",
    value: str = "r",
    title: str | None = None,
    ax=None,
    output_file: str | Path | None = None,
):
    """Scatter each target's model score against its baseline score.

    Points above the diagonal are targets the model predicts better than the
    baseline (e.g. word rate + sound power).  With ``ceiling``, points are
    coloured by the fraction of the noise ceiling the model reaches.

    Parameters
    ----------
    model_scores, baseline_scores : array-like, shape (n_targets,)
    target_names : sequence of str, optional
        Labels written next to the points (when there are at most 20).
    ceiling : array-like, shape (n_targets,), optional
    model_label, baseline_label, value : str
        Axis labels.
    title, ax, output_file :
        Figure title, axes to draw on, file to save to.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_score_vs_baseline([0.3, 0.2, 0.1], [0.1, 0.25, 0.05])
    >>> fig.axes[0].collections[0].get_offsets().shape
    (3, 2)
    """
    model = as_vector(model_scores, "model_scores")
    base = as_vector(baseline_scores, "baseline_scores")
    if model.shape != base.shape:
        raise BrainalignInputError(f"model_scores has {model.size} targets but baseline_scores has {base.size}.")
    fig, ax = new_axes(ax, figsize=(4.8, 4.4))
    if ceiling is not None:
        ceil = as_vector(ceiling, "ceiling")
        if ceil.shape != model.shape:
            raise BrainalignInputError(f"ceiling has {ceil.size} values for {model.size} targets.")
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.where(ceil > 0, model / ceil, np.nan)
        points = ax.scatter(base, model, c=fraction, cmap="magma", vmin=0, vmax=1, s=25, edgecolor="k", lw=0.3)
        fig.colorbar(points, ax=ax, label="fraction of noise ceiling")
    else:
        ax.scatter(base, model, s=25, color="C0", edgecolor="k", lw=0.3)
    finite = np.isfinite(model) & np.isfinite(base)
    lo = float(min(np.min(model[finite], initial=0), np.min(base[finite], initial=0)))
    hi = float(max(np.max(model[finite], initial=0.1), np.max(base[finite], initial=0.1)))
    pad = 0.05 * (hi - lo)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls="--")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal", adjustable="box")
    if target_names is not None and len(target_names) <= 20:
        for name, xb, ym in zip(target_names, base, model):
            ax.annotate(str(name), (xb, ym), fontsize=7, xytext=(3, 3), textcoords="offset points")
    wins = int(np.sum(model[finite] > base[finite]))
    # Bottom right lies below the diagonal, where few points are when the model wins.
    ax.text(0.98, 0.02, f"{wins} of {int(finite.sum())} targets above {baseline_label}", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8)
    ax.set_xlabel(f"{baseline_label} {value}")
    ax.set_ylabel(f"{model_label} {value}")
    if title:
        ax.set_title(title)
    return finish(fig, output_file)


def plot_prediction(
    measured: Any,
    predicted: Any,
    times: Any = None,
    *,
    sampling_period: float = 1.0,
    runs: Sequence[str] | None = None,
    folds: Sequence[Any] | None = None,
    standardize: bool = True,
    label: str | None = None,
    title: str | None = None,
    ax=None,
    output_file: str | Path | None = None,
):
    """Overlay a measured and a predicted time course (one target), with their correlation.

    Parameters
    ----------
    measured, predicted : array-like, shape (n_samples,)
        E.g. held-out BOLD of one ROI and the encoding model's prediction.
    times : array-like, optional
        Sample times in seconds; default ``arange(n) * sampling_period``.
    sampling_period : float
    runs : sequence of str, optional
        Run label per sample: run boundaries are drawn as vertical lines.
    folds : sequence of index arrays, optional
        Test samples of each cross-validation fold (e.g. ``result.folds``):
        the legend then gives the fold-averaged r, as encoding scores are
        computed, instead of one r over all samples shown.
    standardize : bool
        z-score both series so their shapes can be compared.
    label, title, ax, output_file :
        Target name (legend), title, axes, file.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 10, 50)
    >>> fig = plot_prediction(np.sin(t), np.sin(t) + 0.1)
    >>> len(fig.axes[0].lines)
    2
    """
    y = as_vector(measured, "measured")
    y_hat = as_vector(predicted, "predicted")
    if y.shape != y_hat.shape:
        raise BrainalignInputError(f"measured has {y.size} samples but predicted has {y_hat.size}.")
    t = np.arange(y.size) * float(sampling_period) if times is None else as_vector(times, "times")
    if t.shape != y.shape:
        raise BrainalignInputError(f"times has {t.size} values for {y.size} samples.")
    finite = np.isfinite(y) & np.isfinite(y_hat)

    def _r(index) -> float:
        keep = np.zeros(y.size, dtype=bool)
        keep[np.asarray(index)] = True
        keep &= finite
        return float(np.corrcoef(y[keep], y_hat[keep])[0, 1]) if keep.sum() > 2 else np.nan

    if folds is not None:
        r = float(np.nanmean([_r(index) for index in folds]))
        r_text = f"fold-mean r = {r:.2f}"
    else:
        r = _r(np.arange(y.size))
        r_text = f"r = {r:.2f}"
    if standardize:
        y = (y - np.nanmean(y)) / (np.nanstd(y) or 1.0)
        y_hat = (y_hat - np.nanmean(y_hat)) / (np.nanstd(y_hat) or 1.0)
    fig, ax = new_axes(ax, figsize=(8.0, 2.8))
    ax.plot(t, y, color="0.2", lw=1, label="measured" if label is None else f"{label} measured")
    ax.plot(t, y_hat, color="C3", lw=1.2, label=f"predicted ({r_text})")
    if runs is not None:
        runs = np.asarray(runs)
        if runs.size != y.size:
            raise BrainalignInputError(f"runs has {runs.size} labels for {y.size} samples.")
        for boundary in np.flatnonzero(runs[1:] != runs[:-1]) + 1:
            ax.axvline(t[boundary], color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("z-score" if standardize else "signal")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_xlim(t[0], t[-1])
    if title:
        ax.set_title(title)
    return finish(fig, output_file)
