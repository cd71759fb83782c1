"""Figures and the report page of a study: several models compared on one axis and on the brain."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, atomic_write_text, load_json
from ._utils import finish, new_axes

logger = logging.getLogger("brainalign.plotting")


def model_profiles(table: pd.DataFrame, *, subjects_only: bool = True) -> pd.DataFrame:
    """Mean r per model and layer (over targets), mean and SEM over subjects, with normalised depth."""
    needed = {"model", "layer", "depth", "subject", "r"}
    missing = needed - set(table.columns)
    if missing:
        raise BrainalignInputError(f"A study table needs columns {sorted(needed)}; missing {sorted(missing)}.")
    if subjects_only and "kind" in table and (table["kind"] == "subject").any():
        table = table[table["kind"] == "subject"]
    per_subject = table.groupby(["model", "layer", "depth", "subject"], sort=False)["r"].mean()
    grouped = per_subject.groupby(level=["model", "layer", "depth"], sort=False)
    out = pd.DataFrame({"r": grouped.mean(), "n": grouped.count(),
                        "sem": grouped.std(ddof=1) / np.sqrt(grouped.count())}).reset_index()
    return out.sort_values(["model", "depth"]).reset_index(drop=True)


def plot_model_profiles(table: pd.DataFrame, *, ax=None, title: str | None = None, subjects_only: bool = True,
                        output_file: str | Path | None = None):
    """Layer profiles of every model of a study on one axis: mean r against normalised depth (0-1).

    Parameters
    ----------
    table : pandas.DataFrame
        The study table (``study_scores.tsv``): columns ``model``, ``layer``,
        ``depth``, ``subject``, ``r`` (and ``kind``).
    ax : matplotlib Axes, optional
    subjects_only : bool
        Average per-subject rows only (the group average's r is higher and
        not comparable); the band is the SEM over subjects.

    Returns
    -------
    matplotlib.figure.Figure
    """
    profiles = model_profiles(table, subjects_only=subjects_only)
    fig, ax = new_axes(ax, figsize=(6.5, 4.0))
    for model, frame in profiles.groupby("model", sort=False):
        line, = ax.plot(frame["depth"], frame["r"], marker="o", label=f"{model} ({len(frame)} layers)")
        if frame["n"].max() > 1:
            ax.fill_between(frame["depth"], frame["r"] - frame["sem"], frame["r"] + frame["sem"],
                            color=line.get_color(), alpha=0.2, linewidth=0)
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set_xlabel("layer depth (0 = embeddings, 1 = last block)")
    ax.set_ylabel("mean r over targets")
    ax.set_xlim(-0.02, 1.02)
    ax.legend(frameon=False, fontsize="small")
    n = int(profiles["n"].max()) if len(profiles) else 0
    ax.set_title(title or f"layer profiles, mean ± SEM over {n} subject(s)")
    return finish(fig, output_file)


def _best_layer_figure(map_file: Path, layer_names: list[str], title: str):
    from nilearn.image import index_img

    from ._brain import draw_layer_labels

    display = draw_layer_labels(index_img(str(map_file), 0), layer_names, kind="glass", title=title)
    fig = display.frame_axes.figure
    return display, fig


def _joint_section(study_dir: Path, summary: dict) -> str:
    """Models fitted together: mean joint / unique / shared R² and the variance partition of each recording."""
    from ._report import _figure_png, _img, _table

    recordings = summary.get("joint_recordings") or []
    if not recordings:
        return ""
    import matplotlib.pyplot as plt

    from ..encoding import MultimodalResult
    from ._multimodal import plot_variance_partition

    head = pd.DataFrame([summary.get("joint_headline") or {}]).T.rename(columns={0: "mean over targets"})
    parts = ["<h2 id='joint'>Models fitted together</h2>",
             "<p class='muted'>Held-out R² of the joint model (one band per model layer), the variance each model "
             "explains uniquely, the shared variance, and the share of targets each model explains best.</p>",
             _table(head.round(4).reset_index().rename(columns={"index": "quantity"}), 40)]
    for rec in recordings[:4]:
        result = MultimodalResult.load(study_dir / "joint" / rec)
        if not (result.scores["joint"] > 0).any():  # nothing predicted: a figure would be empty
            parts.append(f"<p class='muted'>joint/{rec}: no target has a held-out joint R² above 0.</p>")
            continue
        fig = plot_variance_partition(result, title=f"variance partition: {rec}")
        fig = getattr(fig, "figure", fig)
        parts.append(_img(_figure_png(fig), f"joint/{rec}"))
        plt.close(fig)
    return "\n".join(parts)


def write_study_report(study_dir: str | Path, out: str | Path | None = None, *, title: str | None = None,
                       max_table_rows: int = 80) -> Path:
    """One self-contained HTML page comparing the models of a study folder.

    Shows the per-model headline, the layer profiles of all models on one
    axis (normalised depth), the gain over the baseline per model and target
    with its bootstrap interval and FDR p, best-layer maps per model (group
    average when fitted, else the first subject) and the provenance.

    Returns
    -------
    path : pathlib.Path
    """
    from ._report import _CSS, _esc, _figure_png, _img, _kv_table, _table

    study_dir = Path(study_dir)
    summary = load_json(study_dir / "summary.json")
    if summary.get("kind") != "study":
        raise BrainalignInputError(f"{study_dir} is not a study folder (summary kind {summary.get('kind')!r}).")
    table = pd.read_csv(study_dir / "study_scores.tsv", sep="\t", dtype={"target": str, "subject": str})
    title = title or f"brainalign study: {summary.get('name', study_dir.name)}"
    body = [f"<h1>{_esc(title)}</h1>",
            f"<p class='muted'>Kind: study &middot; created {_esc(summary.get('created', '?'))} &middot; report "
            f"written {_esc(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))} &middot; folder "
            f"<code>{_esc(study_dir.resolve())}</code></p>",
            "<nav><a href='#models'>Models</a><a href='#profiles'>Profiles</a><a href='#gains'>Gains</a>"
            "<a href='#maps'>Maps</a><a href='#provenance'>Provenance</a></nav>"]
    subjects = [r for r in summary.get("recordings", []) if r != "group"]
    body.append(f"<p>{len(summary.get('models', []))} model(s) &times; {len(subjects)} subject(s)"
                + (" + group average" if "group" in summary.get("recordings", []) else "")
                + f", {table['target'].nunique()} targets.</p>")
    head = pd.DataFrame([{"model": m, **h} for m, h in (summary.get("headline") or {}).items()])
    body.append("<h2 id='models'>Models</h2>" + (_table(head, max_table_rows) if len(head) else ""))

    import matplotlib.pyplot as plt

    body.append(_joint_section(study_dir, summary))
    body.append("<h2 id='profiles'>Layer profiles</h2>")
    if len(table):
        fig = plot_model_profiles(table)
        body.append(_img(_figure_png(fig), "mean r per layer against normalised depth; band: SEM over subjects"))
        plt.close(fig)
    else:
        body.append("<p class='muted'>No per-layer sweeps in this study (joint fits only).</p>")

    body.append("<h2 id='gains'>Gain over the baseline</h2>")
    if len(table) and table["gain"].notna().any():
        best = {m: h["best_layer"] for m, h in (summary.get("headline") or {}).items()}
        rows = table[table.apply(lambda r: best.get(r["model"]) == r["layer"], axis=1)]
        cols = ["gain", "ci_low", "ci_high", "p_fdr"]
        agg = rows.groupby(["model", "layer", "target"], sort=False)[cols].agg(
            {"gain": "mean", "ci_low": "mean", "ci_high": "mean",
             "p_fdr": lambda p: float((p < 0.05).mean())}).reset_index()
        agg = agg.rename(columns={"gain": "mean gain", "ci_low": "mean CI low", "ci_high": "mean CI high",
                                  "p_fdr": "share of recordings p_fdr<0.05"})
        body.append("<p class='muted'>Best layer of each model; gain in r over the baseline alone, mean over "
                    "recordings, with the mean of the per-recording 95 % paired block-bootstrap intervals.</p>"
                    + _table(agg.round(4), max_table_rows))
    else:
        body.append("<p class='muted'>No baseline was fitted, so there is no gain to report.</p>")

    body.append("<h2 id='maps'>Best-layer maps</h2>")
    any_map = False
    for model in summary.get("models", []):
        for rec in (["group"] if "group" in summary.get("recordings", []) else []) + subjects[:1]:
            map_file = study_dir / model / rec / "maps" / "best_layer.nii.gz"
            if map_file.is_file():
                layers = list(table[table.model == model].drop_duplicates("layer").sort_values("depth")["layer"])
                try:
                    display, fig = _best_layer_figure(map_file, layers, f"{model} — {rec}")
                    body.append(_img(_figure_png(fig), f"{model}/{rec}/maps/best_layer.nii.gz"))
                    display.close()
                    any_map = True
                except Exception as err:  # noqa: BLE001 - a map that cannot be drawn is reported, not fatal
                    body.append(f"<p class='warn'>{_esc(model)}/{_esc(rec)}: map not drawn ({_esc(err)}).</p>")
                break
    if not any_map:
        body.append("<p class='muted'>No image maps (ROI or sensor data, or maps = false).</p>")

    body.append("<h2 id='provenance'>Provenance</h2>")
    body.append("<h3>Configuration</h3><pre>"
                + _esc(json.dumps(summary.get("config"), indent=2, sort_keys=True, default=str)) + "</pre>")
    body.append("<h3>Package versions</h3>" + _kv_table(summary.get("versions") or {}, "package", "version"))
    hashes: dict[str, Any] = {}
    for cell, values in (summary.get("data_hashes") or {}).items():
        hashes[f"{cell} recording"] = values.get("recording", "?")
    body.append("<h3>Recording hashes (SHA-256)</h3>" + _kv_table(hashes, "model/subject", "sha256"))
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>"
            + "\n".join(body) + "</main></body></html>\n")
    out_path = Path(out) if out is not None else study_dir / "report.html"
    atomic_write_text(out_path, page)
    logger.info("Study report written to %s", out_path)
    return out_path
