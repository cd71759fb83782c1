"""The report of one results folder (``brainalign encode``, a saved ``LayerSweep``, ``localize``, ``demo``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, load_json
from ..encoding import bootstrap_best_layer_ci
from ..plotting import draw_layer_labels, plot_layer_profile, plot_score_map, plot_score_vs_baseline
from ._common import R2_NOTE, comparison_sections, provenance
from ._render import Figure, Section, figure, logger, now, read_tsv, render, table
from ._study import study_report


def _layer_summary(scores: pd.DataFrame, value: str) -> pd.DataFrame:
    keys = [c for c in ("model", "layer") if c in scores.columns]
    # an empty model name reads back from TSV as NaN; keep those rows
    scores = scores.assign(**{c: scores[c].astype(object).where(scores[c].notna(), "").astype(str) for c in keys})
    per_target = scores.groupby(keys + ["target"], sort=False)[value].mean().reset_index()
    summary = per_target.groupby(keys, sort=False)[value].agg(["mean", "median", "max", "count"]).reset_index()
    return summary.rename(columns={"mean": f"mean {value}", "median": f"median {value}",
                                   "max": f"max {value}", "count": "targets"})


def _per_target(frame: pd.DataFrame, value: str) -> pd.Series:
    return frame.assign(target=frame["target"].astype(str)).groupby("target", sort=False)[value].mean()


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in frame.columns), None)


def _baselines_and_ceiling(baseline_scores: pd.DataFrame | None, tables: dict[str, pd.DataFrame]
                           ) -> tuple[dict[str, pd.Series], pd.Series | None]:
    """Per-target r of every baseline (scores.tsv baseline rows, tables/*baseline*.tsv) and the noise ceiling."""
    baselines: dict[str, pd.Series] = {}
    if baseline_scores is not None and {"layer", "target", "r"} <= set(baseline_scores.columns):
        for name, sub in baseline_scores.groupby("layer", sort=False):
            baselines[str(name)] = _per_target(sub, "r")
    for name, frame in tables.items():
        value = _column(frame, ("r", "score", "mean_r"))
        if "baseline" not in name.lower() or "target" not in frame.columns or value is None:
            continue
        label = _column(frame, ("baseline", "model", "name", "layer"))
        for base_name, sub in (frame.groupby(label, sort=False) if label else [(name, frame)]):
            baselines[str(base_name)] = _per_target(sub, value)
    ceiling = None
    for name, frame in tables.items():
        value = _column(frame, ("ceiling", "noise_ceiling", "r", "value"))
        if "ceiling" in name.lower() and "target" in frame.columns and value is not None:
            ceiling = _per_target(frame, value)
    return baselines, ceiling


def _scores_section(scores: pd.DataFrame, baselines: dict[str, pd.Series], ceiling: pd.Series | None,
                    max_rows: int) -> tuple[Section, dict[str, float]]:
    value = "r" if "r" in scores.columns else ("r2" if "r2" in scores.columns else None)
    if value is None or not {"layer", "target"} <= set(scores.columns):
        return Section("scores", "Encoding scores", "sections/scores.html",
                       {"missing": str(list(scores.columns)), "raw": table(scores, max_rows)}), {}
    summary = _layer_summary(scores, value)
    best = int(np.nanargmax(summary[f"mean {value}"].to_numpy())) if len(summary) else None
    n_subjects = scores["subject"].nunique() if "subject" in scores.columns else 1
    model = None
    if "model" in summary.columns and summary["model"].nunique() == 1:
        model = summary["model"].iloc[0] or "unnamed"
        summary = summary.drop(columns="model")
    data: dict[str, Any] = {
        "missing": None, "n_targets": scores["target"].nunique(), "n_layers": summary.shape[0],
        "n_folds": scores["fold"].nunique() if "fold" in scores.columns else 1, "n_subjects": n_subjects,
        "model": model, "summary": table(summary, max_rows, highlight=best), "figures": [], "per_target": None,
        "best": None, "r2_note": R2_NOTE if value == "r2" else None, "best_ci": None}
    best_row = {} if best is None else {"highest layer mean " + value: float(summary.iloc[best][f"mean {value}"])}
    try:
        group = "target" if scores["target"].nunique() <= 12 else None
        level = None
        if baselines and value == "r":  # the one every gain is measured against ("baseline"), else the first
            first = baselines.get("baseline", next(iter(baselines.values())))
            level = {str(k): float(v) for k, v in first.items()} if group else float(first.mean())
        ceil = None
        if ceiling is not None and value == "r":
            ceil = {str(k): float(v) for k, v in ceiling.items()} if group else float(ceiling.mean())
        fig = plot_layer_profile(scores, value=value, group=group, title="Layer profile", baseline=level,
                                 ceiling=ceil)
        drawn = ", with the baseline alone (dotted)" if level is not None else ""
        drawn += " and the noise ceiling (dashed)" if ceil is not None else ""
        data["figures"].append(figure(fig, f"Fold-averaged {value} per layer"
                                      + (" and target (ROI)" if group else " across targets")
                                      + f", mean ± SEM{drawn}. The y axis is fitted to the data, not to 0."))
    except (BrainalignInputError, ValueError, KeyError) as err:
        logger.warning("Layer profile figure skipped: %s", err)
    if best is not None and value == "r":
        data["best_ci"] = _best_layer_uncertainty(scores, list(summary["layer"].astype(str)))
    if best is not None and scores["target"].nunique() <= 40:
        layer = summary.iloc[best]["layer"]
        spread = "SD over folds" if n_subjects == 1 else "SD over folds and subjects"
        per_target = (scores[scores["layer"] == layer].groupby("target", sort=False)[value].agg(["mean", "std"])
                      .reset_index().rename(columns={"mean": f"mean {value}", "std": spread}))
        data.update(per_target=table(per_target, max_rows), best=layer)
    return Section("scores", "Encoding scores", "sections/scores.html", data), best_row


def _best_layer_uncertainty(scores: pd.DataFrame, layers: list[str], n_bootstraps: int = 1000) -> str | None:
    """How sure the highest-r layer is: targets and folds resampled (one subject's sweep), as a sentence."""
    if len(layers) < 2 or "fold" not in scores.columns or ("subject" in scores.columns
                                                           and scores["subject"].nunique() > 1):
        return None
    frame = scores.assign(layer=scores["layer"].astype(str), target=scores["target"].astype(str))
    try:
        folds = [frame[frame["layer"] == name].pivot_table(index="fold", columns="target", values="r")
                 for name in layers]
        targets = folds[0].columns
        folds = [f.reindex(columns=targets).to_numpy(dtype=np.float64) for f in folds]
        matrix = np.stack([f.mean(0) for f in folds])
        if len({f.shape for f in folds}) != 1 or not np.isfinite(matrix).all():
            return None
        ci = bootstrap_best_layer_ci(matrix, folds, n_bootstraps=n_bootstraps)
    except (BrainalignInputError, ValueError, KeyError) as err:
        logger.warning("Best-layer interval skipped: %s", err)
        return None
    share = float(np.mean(ci["distribution"] == ci["best"]))
    low, high = layers[int(np.floor(ci["low"]))], layers[int(np.ceil(ci["high"]))]
    span = f"from {low} to {high}" if low != high else f"only {low}"
    return (f"How sure is the highest mean r? Resampling targets and folds {n_bootstraps} times, "
            f"{layers[ci['best']]} has the highest mean in {share:.0%} of resamples; the 95% interval of the "
            f"best layer runs {span}.")


_GAIN_COLS = ("gain", "gain_ci_low", "gain_ci_high", "gain_p", "gain_p_fdr")


def _gain_section(scores: pd.DataFrame | None, max_rows: int) -> Section | None:
    """Each layer's gain over the baseline with its paired bootstrap CI and FDR p (scores.tsv gain columns)."""
    if scores is None or not set(_GAIN_COLS) <= set(scores.columns) or not scores["gain"].notna().any():
        return None
    per = (scores.dropna(subset=["gain"]).assign(target=lambda f: f["target"].astype(str))
           .groupby(["layer", "target"], sort=False)[list(_GAIN_COLS)].first().reset_index())
    per["verdict"] = np.where(per["gain_ci_low"] > 0, "adds to baseline",
                              np.where(per["gain_ci_high"] < 0, "below baseline", "within noise"))
    counts = per.groupby("layer", sort=False).agg(
        mean_gain=("gain", "mean"), targets=("gain", "size"),
        ci_above_0=("gain_ci_low", lambda c: int((c > 0).sum())),
        ci_below_0=("gain_ci_high", lambda c: int((c < 0).sum())),
        fdr_below_05=("gain_p_fdr", lambda c: int((c < 0.05).sum()))).reset_index()
    counts = counts.rename(columns={"mean_gain": "mean gain", "ci_above_0": "CI above 0",
                                    "ci_below_0": "CI below 0", "fdr_below_05": "p_fdr < 0.05"})
    best = int(np.nanargmax(counts["mean gain"].to_numpy()))
    layer = counts.iloc[best]["layer"]
    shown = per[per["layer"] == layer].drop(columns="layer").rename(columns={
        "gain_ci_low": "CI low", "gain_ci_high": "CI high", "gain_p": "p", "gain_p_fdr": "p_fdr"})
    above = per[per["gain_ci_low"] > 0]
    if above.empty:
        verdicts = [{"css": "null", "text": (
            f"No layer beats the baseline: no layer's gain has a 95% CI above 0 in any of the "
            f"{per['target'].nunique()} target(s) (largest mean gain {counts['mean gain'].max():+.4f} at {layer}).")}]
    else:
        verdicts = [{"css": "positive", "text": (
            f"{above['layer'].nunique()} layer(s) beat the baseline in at least one target: "
            f"{len(above)} of {len(per)} (layer, target) intervals lie above 0 (uncorrected across layers).")}]
    return Section("gain", "Gain over the baseline", "sections/gain.html", {
        "counts": table(counts, max_rows, highlight=best), "best": layer, "per_target": table(shown, max_rows),
        "verdicts": verdicts})


def _sensitivity_section(tables: dict[str, pd.DataFrame], max_rows: int) -> Section | None:
    """Does a conclusion depend on a choice?  ``tables/sensitivity.tsv``: gain and CI per variant."""
    frame = tables.get("sensitivity")
    if frame is None or not {"variant", "target", "gain", "ci_low", "ci_high"} <= set(frame.columns):
        return None
    frame = frame.assign(target=frame["target"].astype(str), variant=frame["variant"].astype(str))
    cells = [f"{g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for g, lo, hi in zip(frame["gain"], frame["ci_low"], frame["ci_high"])]
    keys = ["target"] + (["layer"] if "layer" in frame.columns else [])
    wide = frame.assign(cell=cells).pivot_table(index=keys, columns="variant", values="cell", aggfunc="first",
                                               sort=False)
    # +1: interval above 0, -1: below 0, 0: contains 0
    verdict = frame.assign(v=np.sign(frame["ci_low"].clip(lower=0)) + np.sign(frame["ci_high"].clip(upper=0)))
    changes = verdict.groupby(keys, sort=False)["v"].nunique() > 1
    wide["conclusion depends on the choice"] = changes.reindex(wide.index).map({True: "yes", False: "no"})
    wide = wide.reset_index()
    wide.columns = [str(c) for c in wide.columns]
    n = int((wide["conclusion depends on the choice"] == "yes").sum())
    return Section("sensitivity", "Sensitivity of the gain to analysis choices", "sections/sensitivity.html",
                   {"n_changes": n, "n_rows": len(wide), "table": table(wide, max_rows)})


def _baseline_section(scores: pd.DataFrame | None, baselines: dict[str, pd.Series],
                      ceiling: pd.Series | None) -> Section | None:
    """Model vs baselines vs noise ceiling per target."""
    if not baselines and ceiling is None:
        return None
    title = "Scores vs baselines and noise ceilings"
    if scores is None or not {"layer", "target", "r"} <= set(scores.columns):
        return Section("baselines", title, "sections/baselines.html", {"table": None})
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
    if len(comparison) <= 40:
        shown = table(comparison, 40)
    else:
        numeric = comparison.drop(columns="target")
        overview = numeric.agg(["mean", "median"]).T.reset_index().rename(columns={"index": "score"})
        for name in baselines:
            column = comparison[f"{name} r"]
            valid = column.notna() & comparison[model_col].notna()
            overview.loc[overview["score"] == f"{name} r", "targets where model > this"] = (
                f"{int((comparison[model_col] > column)[valid].sum())} of {int(valid.sum())}")
        shown = table(overview.fillna(""), 40)
    figures = []
    for name in baselines:
        column = comparison[f"{name} r"]
        if not column.notna().any():
            continue
        try:
            fig = plot_score_vs_baseline(
                comparison[model_col], column, ceiling=comparison.get("noise ceiling"),
                target_names=comparison["target"].tolist() if len(comparison) <= 20 else None,
                model_label=f"model ({best_layer})", baseline_label=name)
            figures.append(figure(fig, f"Per-target r of the layer with the highest mean against the {name} "
                                       "baseline; points above the diagonal beat the baseline."))
        except (BrainalignInputError, ValueError) as err:
            logger.warning("Baseline scatter skipped: %s", err)
    return Section("baselines", title, "sections/baselines.html", {"table": shown, "figures": figures})


def _map_volumes(path: Path, layer_names: list[str]) -> list[Figure]:
    """A figure for each volume of a map (at most two volumes of a 4-D image).

    Maps of layer numbers (an integer image whose name mentions "layer", as
    written by the demo or ``LayerSweep.to_image``) are categorical: one
    colour per layer, on axial slices (a maximum projection would show the
    highest label along each line of sight).
    """
    import nibabel as nib
    from nilearn import image

    img = nib.load(str(path))
    volumes = ([(image.index_img(img, i), f" (volume {i})") for i in range(min(img.shape[3], 2))] if img.ndim == 4
               else [(img, "")])
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
            out.append(figure(draw_layer_labels(vol, names, title=stem, legend_title="layer"),
                              f"maps/{path.name}{suffix}: layer per voxel, one colour per layer (axial slices)"))
        else:
            out.append(figure(plot_score_map(vol, title=stem), f"maps/{path.name}{suffix}"))
    return out


def _maps_section(results_dir: Path, layer_names: list[str], max_maps: int = 6) -> Section | None:
    maps = sorted((results_dir / "maps").glob("*.nii*")) if (results_dir / "maps").is_dir() else []
    if not maps:
        return None
    figures, warnings = [], []
    for path in maps[:max_maps]:
        try:
            figures.extend(_map_volumes(path, layer_names))
        except Exception as err:  # noqa: BLE001 - a broken map must not lose the whole report
            logger.warning("Could not draw %s: %s", path, err)
            warnings.append(f"Could not draw maps/{path.name}: {err}")
    return Section("maps", "Brain maps", "sections/maps.html", {
        "intro": None, "figures": figures, "warnings": warnings, "more": max(0, len(maps) - max_maps), "empty": None})


def _layers_section(results_dir: Path) -> Section | None:
    sides = [(kind, path) for kind in ("layers", "baselines") if (results_dir / kind).is_dir()
             for path in sorted((results_dir / kind).glob("*/result.json"))]
    rows, warnings = [], []
    for kind, side in sides:
        try:
            info = load_json(side)
        except (OSError, ValueError) as err:
            warnings.append(f"{side.parent.name}: unreadable result.json ({err})")
            continue
        meta = info.get("metadata", {}) or {}
        cv = meta.get("cv", meta.get("folds", ""))
        rows.append({"folder": f"{kind}/{side.parent.name}", "name": info.get("name", side.parent.name),
                     "subject": info.get("subject", ""), "model": info.get("model", ""),
                     "cv": (json.dumps(cv, sort_keys=True, default=str) if isinstance(cv, (dict, list))
                            else str(cv))[:80]})
        warnings.extend(f"{info.get('name', side.parent.name)}: {w}" for w in meta.get("warnings", []) or [])
    if not rows and not warnings:
        return None
    return Section("layers", "Saved results per layer and baseline", "sections/layers.html",
                   {"warnings": list(dict.fromkeys(warnings)),
                    "table": table(pd.DataFrame(rows), 200) if rows else None})


def _collect_tables(results_dir: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    table_dir = results_dir / "tables"
    if table_dir.is_dir():
        for path in sorted(table_dir.glob("*.tsv")):
            frame = read_tsv(path)
            if frame is not None:
                tables[path.stem] = frame
    return tables


def _sweep_settings(summary: dict) -> dict:
    """Resolved analysis settings of a saved LayerSweep (its summary's config)."""
    config = summary.get("config") or {}
    cv = config.get("cross_validate") or {}
    if not isinstance(cv, dict):
        return {}
    out = {f"encoding: {k}": v for k, v in cv.items()}
    for key in ("baseline", "baseline_combination", "autocorrelation_baseline", "gain_test"):
        if key in config:
            out[key] = config[key]
    return out


def _cards(headline: dict, layer_names: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Headline numbers as cards; a layer index becomes its name, and R² comes with its explanation."""
    cards, notes = [], []
    for key, value in headline.items():
        if key.endswith("layer_index") and isinstance(value, (int, np.integer)) and 0 <= value < len(layer_names):
            key, value = key.replace("_index", ""), layer_names[int(value)]
        text = f"{value:.3g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
        cards.append((str(key), text))
        if "r2" in str(key).lower() and R2_NOTE not in notes:
            notes.append(R2_NOTE)
    return cards, notes


def write_report(results_dir: str | Path, out: str | Path | None = None, *, title: str | None = None,
                 max_table_rows: int = 60) -> Path:
    """Write a self-contained HTML report of a brainalign results folder.

    Reads ``summary.json`` (config, versions, data hashes, headline numbers),
    ``scores.tsv``, ``tables/*.tsv`` (baselines, noise ceilings, deficits ...),
    ``figures/*.png``, ``maps/*.nii.gz`` and ``layers/*/result.json``; every
    part is optional.  Figures are embedded as base64 PNG, so the page needs
    no other file.  A study folder (``study_scores.tsv``) gets the study page
    (:func:`study_report`).

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
        return study_report(results_dir, out, title=title, max_table_rows=max_table_rows)
    summary_path, scores_path = results_dir / "summary.json", results_dir / "scores.tsv"
    figure_paths = sorted((results_dir / "figures").glob("*.png")) if (results_dir / "figures").is_dir() else []
    tables = _collect_tables(results_dir)
    if not (summary_path.exists() or scores_path.exists() or figure_paths or tables):
        raise BrainalignInputError(
            f"{results_dir} does not look like a brainalign results folder: no summary.json, scores.tsv, "
            "tables/*.tsv or figures/*.png in it.")
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
    all_scores = read_tsv(scores_path) if scores_path.exists() else None
    scores, baseline_scores = all_scores, None
    if all_scores is not None and "kind" in all_scores.columns:  # a layer sweep also lists its baselines
        kinds = all_scores["kind"].astype(str)
        scores = all_scores[kinds == "layer"] if (kinds == "layer").any() else all_scores
        found = all_scores[kinds == "baseline"]
        baseline_scores = found if len(found) else None
    baselines, ceiling = _baselines_and_ceiling(baseline_scores, tables)

    layer_names = [str(n) for n in summary.get("layers") or (summary.get("config") or {}).get("layers") or []]
    if not layer_names and scores is not None and "layer" in scores.columns:
        layer_names = list(dict.fromkeys(scores["layer"].astype(str)))
    headline = dict(summary.get("headline") or {})
    sections: list[Section | None] = []
    if scores is not None:
        section, extra = _scores_section(scores, baselines, ceiling, max_table_rows)
        sections.append(section)
        if not headline:  # results without headline numbers get the best layer's score
            headline.update(extra)
    sections += [_gain_section(scores, max_table_rows), _sensitivity_section(tables, max_table_rows),
                 _baseline_section(scores, baselines, ceiling)]
    comparisons = comparison_sections(results_dir / "tables", max_rows=max_table_rows)
    sections += comparisons
    if figure_paths:
        sections.append(Section("figures", "Figures", "sections/figures.html",
                                {"figures": [Figure(p.read_bytes(), f"figures/{p.name}") for p in figure_paths]}))
    sections.append(_maps_section(results_dir, layer_names))
    shown_tables = [(name, table(frame, max_table_rows)) for name, frame in tables.items()
                    if name not in {s.id for s in comparisons}]
    if shown_tables:
        sections.append(Section("tables", "Tables", "sections/tables.html", {"tables": shown_tables}))
    sections.append(_layers_section(results_dir))
    cards, card_notes = _cards(headline, layer_names)
    present = [s for s in sections if s is not None]
    out_path = Path(out) if out is not None else results_dir / "report.html"
    render("results.html", out_path, title=title or f"brainalign report: {results_dir.resolve().name}",
           kind=summary.get("kind", "results"), created=summary.get("created", "unknown"), written=now(),
           folder=str(results_dir.resolve()), nav=[(s.id, s.title) for s in present], notes=notes,
           cards=cards, card_notes=card_notes, sections=present,
           provenance=provenance(summary, settings=_sweep_settings(summary)))
    logger.info("Report written to %s", out_path)
    return out_path
