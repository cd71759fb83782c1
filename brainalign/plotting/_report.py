"""``brainalign report RESULTS_DIR``: one self-contained HTML page for a results folder.

The page embeds every figure as a base64 PNG and needs no network or other
file, so it can be mailed, archived or attached to a paper's supplement.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, atomic_write_text, load_json
from ._utils import layer_rows

logger = logging.getLogger("brainalign.plotting")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{margin:0 0 4px;font-size:1.7em} h2{margin-top:36px;border-bottom:2px solid #d7dbe2;padding-bottom:4px}
h3{margin-bottom:6px} .muted{color:#667085;font-size:.92em}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #d7dbe2;border-radius:8px;padding:10px 16px;min-width:150px}
.card .v{font-size:1.5em;font-weight:600} .card .k{color:#667085;font-size:.85em}
table{border-collapse:collapse;background:#fff;font-size:.88em;margin:8px 0}
th,td{border:1px solid #d7dbe2;padding:3px 8px;text-align:right} th{background:#eef0f4}
td:first-child,th:first-child{text-align:left}
tr.best td{background:#fff4d6;font-weight:600}
figure{background:#fff;border:1px solid #d7dbe2;border-radius:8px;margin:12px 0;padding:8px;display:inline-block;max-width:100%}
figure img{max-width:100%;height:auto;display:block} figcaption{font-size:.85em;color:#667085;margin-top:4px}
pre{background:#fff;border:1px solid #d7dbe2;padding:10px;overflow:auto;font-size:.82em;max-height:480px}
.warn{background:#fff1f0;border-left:4px solid #d92d20;padding:6px 12px;margin:8px 0}
nav a{margin-right:14px}
"""


# ----------------------------------------------------------------- helpers
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _figure_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _img(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _table(frame: pd.DataFrame, max_rows: int, highlight: int | None = None) -> str:
    shown = frame.head(max_rows)
    rows = ["<table><thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in shown.columns) + "</tr></thead><tbody>"]
    for i, (_, row) in enumerate(shown.iterrows()):
        cells = []
        for value in row:
            if isinstance(value, (float, np.floating)):
                text = "" if not np.isfinite(value) else f"{value:.4g}"
            else:
                text = str(value)
            cells.append(f"<td>{_esc(text)}</td>")
        css = ' class="best"' if highlight is not None and i == highlight else ""
        rows.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    more = "" if len(frame) <= max_rows else f'<p class="muted">First {max_rows} of {len(frame)} rows.</p>'
    return "".join(rows) + more


def _kv_table(mapping: dict, key: str, value: str) -> str:
    frame = pd.DataFrame({key: [str(k) for k in mapping], value: [_short(v) for v in mapping.values()]})
    return _table(frame, max_rows=500)


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _read_tsv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        logger.warning("Could not read table %s: %s", path, err)
        return None


# ---------------------------------------------------------------- sections
def _layer_summary(scores: pd.DataFrame, value: str) -> pd.DataFrame:
    keys = [c for c in ("model", "layer") if c in scores.columns]
    # an empty model name reads back from TSV as NaN; keep those rows
    scores = scores.assign(**{c: scores[c].astype(object).where(scores[c].notna(), "").astype(str) for c in keys})
    per_target = scores.groupby(keys + ["target"], sort=False)[value].mean().reset_index()
    summary = per_target.groupby(keys, sort=False)[value].agg(["mean", "median", "max", "count"]).reset_index()
    return summary.rename(columns={"mean": f"mean {value}", "median": f"median {value}",
                                   "max": f"max {value}", "count": "targets"})


def _scores_section(scores: pd.DataFrame, max_rows: int) -> tuple[str, dict[str, float]]:
    from ._profiles import plot_layer_profile

    parts = ["<h2 id='scores'>Encoding scores</h2>"]
    value = "r" if "r" in scores.columns else ("r2" if "r2" in scores.columns else None)
    needed = {"layer", "target"}
    if value is None or not needed <= set(scores.columns):
        parts.append(f"<p class='warn'>scores.tsv lacks the columns layer, target and r; it has "
                     f"{_esc(list(scores.columns))}.</p>" + _table(scores, max_rows))
        return "".join(parts), {}
    summary = _layer_summary(scores, value)
    best = int(np.nanargmax(summary[f"mean {value}"].to_numpy())) if len(summary) else None
    n_folds = scores["fold"].nunique() if "fold" in scores.columns else 1
    n_subjects = scores["subject"].nunique() if "subject" in scores.columns else 1
    model_note = ""
    if "model" in summary.columns and summary["model"].nunique() == 1:
        model_note = f" Model: <code>{_esc(summary['model'].iloc[0] or 'unnamed')}</code>."
        summary = summary.drop(columns="model")
    parts.append(
        f"<p class='muted'>{scores['target'].nunique()} targets, {summary.shape[0]} layer(s), "
        f"{n_folds} fold(s), {n_subjects} subject(s).{model_note} Scores are computed within each test fold "
        f"and averaged over folds, then summarised across targets. The best layer is highlighted.</p>"
    )
    parts.append(_table(summary, max_rows, highlight=best))
    best_row = {} if best is None else {"best layer mean " + value: float(summary.iloc[best][f"mean {value}"])}
    try:
        group = "target" if scores["target"].nunique() <= 12 else None
        fig = plot_layer_profile(scores, value=value, group=group, title="Layer profile")
        parts.append(_img(_figure_png(fig), f"Fold-averaged {value} per layer"
                          + (" and target (ROI)" if group else " across targets") + ", mean ± SEM."))
    except (BrainalignInputError, ValueError, KeyError) as err:
        logger.warning("Layer profile figure skipped: %s", err)
    if best is not None and scores["target"].nunique() <= 40:
        layer = summary.iloc[best]["layer"]
        spread = "SD over folds" if n_subjects == 1 else "SD over folds and subjects"
        per_target = (scores[scores["layer"] == layer].groupby("target", sort=False)[value].agg(["mean", "std"])
                      .reset_index().rename(columns={"mean": f"mean {value}", "std": spread}))
        parts.append(f"<h3>Per target, best layer ({_esc(layer)})</h3>" + _table(per_target, max_rows))
    return "".join(parts), best_row


_GAIN_COLS = ("gain", "gain_ci_low", "gain_ci_high", "gain_p", "gain_p_fdr")


def _gain_section(scores: pd.DataFrame | None, max_rows: int) -> str:
    """Each layer's gain over the baseline with its paired bootstrap CI and FDR p (scores.tsv gain columns)."""
    if scores is None or not set(_GAIN_COLS) <= set(scores.columns) or not scores["gain"].notna().any():
        return ""
    per = (scores.dropna(subset=["gain"]).assign(target=lambda f: f["target"].astype(str))
           .groupby(["layer", "target"], sort=False)[list(_GAIN_COLS)].first().reset_index())
    per["verdict"] = np.where(per["gain_ci_low"] > 0, "adds to baseline",
                              np.where(per["gain_ci_high"] < 0, "below baseline", "within noise"))
    parts = ["<h2 id='gain'>Gain over the baseline</h2>",
             "<p class='muted'>Fold-averaged test r of layer + baseline minus that of the baseline alone, "
             "on the same folds; 95% interval from a paired circular block bootstrap of the test rows, "
             "one-sided p (gain &le; 0) and its Benjamini-Hochberg FDR across targets, per layer. The "
             "interval is conditional on the fitted models (test-sample uncertainty only). A layer whose "
             "interval lies below zero scores worse than the baseline it contains: a sign of unstable "
             "penalties, not of a layer that hurts the brain.</p>"]
    counts = per.groupby("layer", sort=False).agg(
        mean_gain=("gain", "mean"), targets=("gain", "size"),
        ci_above_0=("gain_ci_low", lambda c: int((c > 0).sum())),
        ci_below_0=("gain_ci_high", lambda c: int((c < 0).sum())),
        fdr_below_05=("gain_p_fdr", lambda c: int((c < 0.05).sum()))).reset_index()
    counts = counts.rename(columns={"mean_gain": "mean gain", "ci_above_0": "CI above 0",
                                    "ci_below_0": "CI below 0", "fdr_below_05": "p_fdr < 0.05"})
    best = int(np.nanargmax(counts["mean gain"].to_numpy()))
    parts.append(_table(counts, max_rows, highlight=best))
    layer = counts.iloc[best]["layer"]
    shown = per[per["layer"] == layer].drop(columns="layer").rename(columns={
        "gain_ci_low": "CI low", "gain_ci_high": "CI high", "gain_p": "p", "gain_p_fdr": "p_fdr"})
    parts.append(f"<h3>Per target, layer with the largest mean gain ({_esc(layer)})</h3>"
                 + _table(shown, max_rows))
    return "".join(parts)


def _sensitivity_section(tables: dict[str, pd.DataFrame], max_rows: int) -> str:
    """Does a conclusion depend on a choice?  ``tables/sensitivity.tsv``: gain and CI per variant."""
    table = tables.get("sensitivity")
    needed = {"variant", "target", "gain", "ci_low", "ci_high"}
    if table is None or not needed <= set(table.columns):
        return ""
    table = table.assign(target=table["target"].astype(str), variant=table["variant"].astype(str))
    cell = [f"{g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for g, lo, hi in zip(table["gain"], table["ci_low"], table["ci_high"])]
    keys = ["target"] + (["layer"] if "layer" in table.columns else [])
    wide = table.assign(cell=cell).pivot_table(index=keys, columns="variant", values="cell", aggfunc="first",
                                               sort=False)
    # +1: interval above 0, -1: below 0, 0: contains 0
    verdict = table.assign(v=np.sign(table["ci_low"].clip(lower=0)) + np.sign(table["ci_high"].clip(upper=0)))
    changes = verdict.groupby(keys, sort=False)["v"].nunique() > 1
    wide["conclusion depends on the choice"] = changes.reindex(wide.index).map({True: "yes", False: "no"})
    wide = wide.reset_index()
    wide.columns = [str(c) for c in wide.columns]
    n = int((wide["conclusion depends on the choice"] == "yes").sum())
    return ("<h2 id='sensitivity'>Sensitivity of the gain to analysis choices</h2>"
            "<p class='muted'>Gain over the baseline [95% CI] under each variant (e.g. the default "
            "cross-validation vs leaving more out, with and without motion confounds). A conclusion "
            "(interval above 0, containing 0, below 0) that differs between variants depends on the "
            f"choice: {n} of {len(wide)} row(s) here.</p>" + _table(wide, max_rows))


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in frame.columns), None)


def _split_kinds(scores: pd.DataFrame | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Layer rows and baseline rows of a scores table (``kind`` column of a layer sweep)."""
    if scores is None or "kind" not in scores.columns:
        return scores, None
    baselines = scores[scores["kind"].astype(str) == "baseline"]
    return layer_rows(scores), (baselines if len(baselines) else None)


def _per_target(frame: pd.DataFrame, value: str) -> pd.Series:
    return frame.assign(target=frame["target"].astype(str)).groupby("target", sort=False)[value].mean()


def _baseline_section(scores: pd.DataFrame | None, baseline_scores: pd.DataFrame | None,
                      tables: dict[str, pd.DataFrame]) -> str:
    """Model vs baselines vs noise ceiling per target, from scores.tsv baseline rows and tables."""
    from ._profiles import plot_score_vs_baseline

    baselines: dict[str, pd.Series] = {}
    if baseline_scores is not None and {"layer", "target", "r"} <= set(baseline_scores.columns):
        for name, sub in baseline_scores.groupby("layer", sort=False):
            baselines[str(name)] = _per_target(sub, "r")
    for name, table in tables.items():
        value = _column(table, ("r", "score", "mean_r"))
        if "baseline" not in name.lower() or "target" not in table.columns or value is None:
            continue
        label = _column(table, ("baseline", "model", "name", "layer"))
        for base_name, sub in (table.groupby(label, sort=False) if label else [(name, table)]):
            baselines[str(base_name)] = _per_target(sub, value)
    ceiling = None
    for name, table in tables.items():
        value = _column(table, ("ceiling", "noise_ceiling", "r", "value"))
        if "ceiling" in name.lower() and "target" in table.columns and value is not None:
            ceiling = _per_target(table, value)
    if not baselines and ceiling is None:
        return ""
    parts = ["<h2 id='baselines'>Scores vs baselines and noise ceilings</h2>"]
    if scores is None or not {"layer", "target", "r"} <= set(scores.columns):
        parts.append("<p class='muted'>No per-target model scores to compare with.</p>")
        return "".join(parts)
    summary = _layer_summary(scores, "r")
    best_layer = summary.iloc[int(np.nanargmax(summary["mean r"].to_numpy()))]["layer"]
    model = _per_target(scores[scores["layer"] == best_layer], "r")
    model_col = f"model r ({best_layer})"
    comparison = pd.DataFrame({"target": model.index, model_col: model.to_numpy()})
    for name, series in baselines.items():
        comparison[f"{name} r"] = comparison["target"].map(series)
    if ceiling is not None:
        comparison["noise ceiling"] = comparison["target"].map(ceiling)
        with np.errstate(divide="ignore", invalid="ignore"):
            comparison["fraction of ceiling"] = comparison[model_col] / comparison["noise ceiling"]
    parts.append("<p class='muted'>Fold-averaged r per target: the best layer (by mean r), each baseline "
                 "fitted the same way, and the noise ceiling when one was estimated.</p>")
    if len(comparison) <= 40:
        parts.append(_table(comparison, 40))
    else:
        numeric = comparison.drop(columns="target")
        overview = numeric.agg(["mean", "median"]).T.reset_index().rename(columns={"index": "score"})
        for name in baselines:
            column = comparison[f"{name} r"]
            valid = column.notna() & comparison[model_col].notna()
            overview.loc[overview["score"] == f"{name} r", "targets where model > this"] = (
                f"{int((comparison[model_col] > column)[valid].sum())} of {int(valid.sum())}")
        parts.append(_table(overview.fillna(""), 40))
    for name in baselines:
        column = comparison[f"{name} r"]
        if not column.notna().any():
            continue
        try:
            fig = plot_score_vs_baseline(
                comparison[model_col], column, ceiling=comparison.get("noise ceiling"),
                target_names=comparison["target"].tolist() if len(comparison) <= 20 else None,
                model_label=f"model ({best_layer})", baseline_label=name,
            )
            parts.append(_img(_figure_png(fig), f"Per-target r of the best layer against the {name} baseline; "
                              "points above the diagonal beat the baseline."))
        except (BrainalignInputError, ValueError) as err:
            logger.warning("Baseline scatter skipped: %s", err)
    return "".join(parts)


def _map_volumes(path: Path, layer_names: list[str]) -> list[tuple[Any, str]]:
    """(display, caption) for each volume of a map (at most two volumes of a 4-D image).

    Maps of layer numbers (an integer image whose name mentions "layer", as
    written by the demo or ``LayerSweep.to_image``) get one colour per layer.
    """
    import nibabel as nib
    from nilearn import image

    from ._brain import draw_layer_labels, plot_score_map

    img = nib.load(str(path))
    if img.ndim == 4:
        volumes = [(image.index_img(img, i), f" (volume {i})") for i in range(min(img.shape[3], 2))]
    else:
        volumes = [(img, "")]
    out = []
    stem = path.name.split(".")[0]
    for k, (vol, suffix) in enumerate(volumes):
        values = np.asarray(vol.dataobj, dtype=np.float64)
        values = values[np.isfinite(values)]
        is_layer_map = ("layer" in stem.lower() and (img.ndim == 3 or k == 0) and values.size > 0
                        and np.allclose(values, np.round(values)) and values.min() >= 0 and values.max() >= 1)
        if is_layer_map:
            n = int(values.max())
            names = layer_names if len(layer_names) >= n else [f"layer {i}" for i in range(1, n + 1)]
            display = draw_layer_labels(vol, names, title=stem, legend_title="layer")
            caption = f"maps/{path.name}{suffix}: layer per voxel, one colour per layer"
        else:
            display = plot_score_map(vol, title=stem)
            caption = f"maps/{path.name}{suffix}"
        out.append((display, caption))
    return out


def _maps_section(results_dir: Path, layer_names: list[str], max_maps: int = 6) -> str:
    maps = sorted((results_dir / "maps").glob("*.nii*")) if (results_dir / "maps").is_dir() else []
    if not maps:
        return ""
    parts = ["<h2 id='maps'>Brain maps</h2>"]
    for path in maps[:max_maps]:
        try:
            for display, caption in _map_volumes(path, layer_names):
                png = _figure_png(display.frame_axes.figure)
                display.close()
                parts.append(_img(png, caption))
        except Exception as err:  # a broken map must not lose the whole report
            logger.warning("Could not draw %s: %s", path, err)
            parts.append(f"<p class='warn'>Could not draw maps/{_esc(path.name)}: {_esc(err)}</p>")
    if len(maps) > max_maps:
        parts.append(f"<p class='muted'>{len(maps) - max_maps} more map(s) in maps/ not shown.</p>")
    return "".join(parts)


def _layers_section(results_dir: Path) -> str:
    sides = [(kind, path) for kind in ("layers", "baselines") if (results_dir / kind).is_dir()
             for path in sorted((results_dir / kind).glob("*/result.json"))]
    if not sides:
        return ""
    rows, warnings = [], []
    for kind, side in sides:
        try:
            info = load_json(side)
        except (OSError, ValueError) as err:
            warnings.append(f"{side.parent.name}: unreadable result.json ({err})")
            continue
        meta = info.get("metadata", {}) or {}
        rows.append({"folder": f"{kind}/{side.parent.name}", "name": info.get("name", side.parent.name),
                     "subject": info.get("subject", ""),
                     "model": info.get("model", ""), "cv": _short(meta.get("cv", meta.get("folds", "")))[:80]})
        for w in meta.get("warnings", []) or []:
            warnings.append(f"{info.get('name', side.parent.name)}: {w}")
    if not rows and not warnings:
        return ""
    parts = ["<h2 id='layers'>Saved results per layer and baseline</h2>"]
    parts.extend(f"<p class='warn'>{_esc(w)}</p>" for w in dict.fromkeys(warnings))
    if rows:
        parts.append(_table(pd.DataFrame(rows), 200))
    return "".join(parts)


def _collect_tables(results_dir: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    table_dir = results_dir / "tables"
    if table_dir.is_dir():
        for path in sorted(table_dir.glob("*.tsv")):
            frame = _read_tsv(path)
            if frame is not None:
                tables[path.stem] = frame
    return tables


def write_report(results_dir: str | Path, out: str | Path | None = None, *, title: str | None = None,
                 max_table_rows: int = 60) -> Path:
    """Write a self-contained HTML report of a brainalign results folder.

    Reads ``summary.json`` (config, versions, data hashes, headline numbers),
    ``scores.tsv``, ``tables/*.tsv`` (baselines, noise ceilings, deficits ...),
    ``figures/*.png``, ``maps/*.nii.gz`` and ``layers/*/result.json``; every
    part is optional.  Figures are embedded as base64 PNG, so the page needs
    no other file.

    Parameters
    ----------
    results_dir : path
        A folder written by ``brainalign encode``, ``run``, ``localize`` or ``demo``.
    out : path, optional
        Output HTML file; default ``results_dir / "report.html"``.
    title : str, optional
        Page title; default the folder name.
    max_table_rows : int
        Longer tables are cut (the page says so).

    Returns
    -------
    path : pathlib.Path
        The HTML file written.

    Examples
    --------
    >>> write_report("demo_results")  # doctest: +SKIP
    PosixPath('demo_results/report.html')
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise BrainalignInputError(f"Results folder {results_dir} does not exist or is not a folder.")
    if (results_dir / "study_scores.tsv").is_file():  # a study folder: the model-comparison page
        from ._study import write_study_report

        return write_study_report(results_dir, out, title=title, max_table_rows=max_table_rows)
    summary_path, scores_path = results_dir / "summary.json", results_dir / "scores.tsv"
    figure_paths = sorted((results_dir / "figures").glob("*.png")) if (results_dir / "figures").is_dir() else []
    tables = _collect_tables(results_dir)
    if not (summary_path.exists() or scores_path.exists() or figure_paths or tables):
        raise BrainalignInputError(
            f"{results_dir} does not look like a brainalign results folder: no summary.json, scores.tsv, "
            "tables/*.tsv or figures/*.png in it."
        )
    notes: list[str] = []
    summary: dict[str, Any] = {}
    if summary_path.exists():
        try:
            summary = load_json(summary_path)
        except (OSError, ValueError) as err:
            notes.append(f"summary.json could not be read: {err}")
        if not isinstance(summary, dict):
            notes.append("summary.json is not a JSON object; ignored.")
            summary = {}
    else:
        notes.append("No summary.json: config, versions and data hashes are unknown.")
    all_scores = _read_tsv(scores_path) if scores_path.exists() else None
    scores, baseline_scores = _split_kinds(all_scores)

    title = title or f"brainalign report: {results_dir.resolve().name}"
    body = [f"<h1>{_esc(title)}</h1>"]
    kind, created = summary.get("kind", "results"), summary.get("created", "unknown")
    body.append(f"<p class='muted'>Kind: {_esc(kind)} &middot; created {_esc(created)} &middot; report written "
                f"{_esc(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))} &middot; folder "
                f"<code>{_esc(results_dir.resolve())}</code></p>")
    body.append("<nav><a href='#scores'>Scores</a><a href='#gain'>Gain</a><a href='#baselines'>Baselines</a><a href='#figures'>Figures</a>"
                "<a href='#tables'>Tables</a><a href='#provenance'>Provenance</a></nav>")
    body.extend(f"<p class='warn'>{_esc(n)}</p>" for n in notes)

    headline = dict(summary.get("headline") or {})
    score_html = ""
    if scores is not None:
        score_html, extra = _scores_section(scores, max_table_rows)
        if not headline:  # results without headline numbers get the best layer's score
            headline.update(extra)
    if headline:
        cards = "".join(
            f"<div class='card'><div class='v'>{_esc(f'{v:.3g}' if isinstance(v, (int, float)) and not isinstance(v, bool) else v)}"
            f"</div><div class='k'>{_esc(k)}</div></div>"
            for k, v in headline.items()
        )
        body.append(f"<div class='cards'>{cards}</div>")
    body.append(score_html)
    body.append(_gain_section(scores, max_table_rows))
    body.append(_sensitivity_section(tables, max_table_rows))
    body.append(_baseline_section(scores, baseline_scores, tables))
    if figure_paths:
        body.append("<h2 id='figures'>Figures</h2>")
        for path in figure_paths:
            body.append(_img(path.read_bytes(), f"figures/{path.name}"))
    layer_names = [str(n) for n in summary.get("layers") or []]
    if not layer_names and scores is not None and "layer" in scores.columns:
        layer_names = list(dict.fromkeys(scores["layer"].astype(str)))
    body.append(_maps_section(results_dir, layer_names))
    if tables:
        body.append("<h2 id='tables'>Tables</h2>")
        for name, frame in tables.items():
            body.append(f"<h3>tables/{_esc(name)}.tsv</h3>" + _table(frame, max_table_rows))
    body.append(_layers_section(results_dir))

    body.append("<h2 id='provenance'>Provenance</h2>")
    config = summary.get("config")
    body.append("<h3>Configuration</h3>" + (
        f"<pre>{_esc(json.dumps(config, indent=2, sort_keys=True, default=str))}</pre>" if config is not None
        else "<p class='muted'>No configuration recorded.</p>"))
    versions = summary.get("versions") or {}
    body.append("<h3>Package versions</h3>" + (_kv_table(versions, "package", "version") if versions
                                               else "<p class='muted'>No versions recorded.</p>"))
    hashes = summary.get("data_hashes") or {}
    body.append("<h3>Data hashes (SHA-256)</h3>" + (_kv_table(hashes, "data", "sha256") if hashes
                                                     else "<p class='muted'>No data hashes recorded.</p>"))
    extra_keys = sorted(set(summary) - {"kind", "config", "versions", "data_hashes", "headline", "created"})
    if extra_keys:
        body.append("<h3>Other summary fields</h3><pre>"
                    + _esc(json.dumps({k: summary[k] for k in extra_keys}, indent=2, sort_keys=True, default=str))
                    + "</pre>")

    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>"
        + "\n".join(part for part in body if part)
        + "</main></body></html>\n"
    )
    out_path = Path(out) if out is not None else results_dir / "report.html"
    atomic_write_text(out_path, page)
    logger.info("Report written to %s", out_path)
    return out_path


# --------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a results folder (summary.json, scores.tsv, ...)")
    parser.add_argument("-o", "--output", metavar="OUT.html", default=None,
                        help="where to write the page (default: RESULTS_DIR/report.html)")
    parser.add_argument("--title", default=None, help="page title (default: the folder name)")


def main(args: argparse.Namespace) -> int:
    try:
        path = write_report(args.results_dir, args.output, title=args.title)
    except BrainalignInputError as err:
        logger.error("%s", err)
        return 2
    logger.info("Open %s in a browser.", path.resolve())
    return 0
