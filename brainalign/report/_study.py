"""The report of a study folder: models compared, subjects and the group average apart, honest about nulls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, load_json
from ..encoding import MultimodalResult
from ..plotting import draw_layer_labels, plot_gain_profile, plot_model_profiles, plot_variance_partition
from ._common import R2_NOTE, comparison_sections, provenance
from ._compare import where_section
from ._render import Figure, Section, figure, interval, logger, now, render, table
from ._rsa import rsa_section
from ._stats import CI_LEVEL, best_layer_summary, group_gains, split_recordings, subject_gains

#: per-target tables are for ROI data; voxel or sensor studies get the summary only
MAX_TARGETS_PER_TABLE = 40

_METHOD = ("How the best layer is chosen: the layer with the largest mean {value} over {units}; its interval is "
           "the 95% t interval over them, 'best in' is the share of {n} bootstrap resamples of the {units} in "
           "which it stays the best, and a layer is 'not distinguishable' from it when the paired bootstrap "
           "interval of their difference includes 0. A model beats the baseline only where a layer's gain "
           "interval lies above 0.")


def _verdict_section(table_: pd.DataFrame, summary: dict, n_bootstraps: int = 2000) -> tuple[Section, list]:
    subjects, group = split_recordings(table_)
    n_sub = subjects["subject"].nunique()
    n_models = len(summary.get("models", []))
    overview = (f"{n_models} model(s) × {n_sub} subject(s)" + (" + the group average (shown separately)"
                                                              if len(group) else "")
                + f", {table_['target'].nunique()} target(s).")
    best = best_layer_summary(table_, n_bootstraps=n_bootstraps)
    rows, verdicts = [], []
    for b in best:
        i = b.layers.index(b.best)
        null = b.has_baseline and not b.beats_baseline
        verdicts.append({"css": "null" if null else ("positive" if b.has_baseline else ""), "text": b.sentence()})
        rows.append({"model": b.model, "ranked by": "gain over baseline" if b.has_baseline else "r (no baseline)",
                     "units": f"{b.n_units} {b.units}",
                     "largest mean": b.best + ("" if not null else " (not above the baseline)"),
                     f"mean [{int(CI_LEVEL * 100)}% CI]": interval(b.mean[i], b.ci_low[i], b.ci_high[i]),
                     "best in bootstrap": "" if not np.isfinite(b.share_best) else f"{b.share_best:.0%}",
                     "not distinguishable from it": ", ".join(n for n in b.indistinguishable if n != b.best) or "none",
                     "layers with gain CI above 0": (", ".join(b.beating) or "none") if b.has_baseline else "n/a"})
    verdicts += _group_verdicts(table_)
    units = best[0].units if best else "subjects"
    value = "gain over the baseline" if best and best[0].has_baseline else "r"
    return Section("verdict", "Verdict", "sections/verdict.html", {
        "overview": overview, "verdicts": verdicts, "table": table(pd.DataFrame(rows)),
        "method": _METHOD.format(value=value, units=units, n=n_bootstraps)}), best


def _group_verdicts(table_: pd.DataFrame) -> list[dict]:
    """One line per model on the group-average recording alone (when the study has one and a baseline)."""
    subjects, group = split_recordings(table_)
    if group.empty or subjects["subject"].nunique() < 2:  # with no subjects the main verdict is the group's
        return []
    gains = group_gains(table_)
    out = []
    for model, frame in gains.groupby("model", sort=False):
        if not frame["gain"].notna().any():
            continue
        top = frame.loc[frame["gain"].idxmax()]
        above = frame.loc[frame["ci_low"] > 0, "layer"].tolist()
        largest = interval(top["gain"], top["ci_low"], top["ci_high"])
        text = (f"{model}, group average on its own: largest mean gain {largest} at {top['layer']} (mean of the "
                f"per-target bootstrap bounds); layers whose interval lies above 0: {', '.join(above) or 'none'}. "
                "A group average is one recording, not a sample of subjects: it says the effect is present in the "
                "averaged signal, not how it generalises.")
        out.append({"css": "positive" if above else "null", "text": text})
    return out


def _ceilings(study_dir: Path) -> dict[str, float] | None:
    """Mean noise ceiling from ``tables/*ceiling*.tsv`` of the study (when one was estimated)."""
    for path in sorted((study_dir / "tables").glob("*ceiling*.tsv")) if (study_dir / "tables").is_dir() else []:
        frame = pd.read_csv(path, sep="\t")
        value = next((c for c in ("ceiling", "noise_ceiling", "r") if c in frame.columns), None)
        if value is not None:
            return {"noise ceiling": float(frame[value].mean())}
    return None


def _profiles_section(table_: pd.DataFrame, ceiling: dict | None) -> Section:
    figures = []
    if len(table_):
        subjects, group = split_recordings(table_)
        if len(subjects):
            figures.append(figure(plot_model_profiles(table_, recordings="subjects", ceiling=ceiling),
                                  "Subjects: mean r per layer, band = 95% CI over subjects; dotted: baseline alone."))
        if len(group):
            figures.append(figure(plot_model_profiles(table_, recordings="group", ceiling=ceiling),
                                  "Group-average recording on its own; dotted: its baseline alone."))
    return Section("profiles", "Layer profiles", "sections/profiles.html",
                   {"figures": figures, "ceiling": ceiling is not None, "r2_note": R2_NOTE})


def _gain_cells(frame: pd.DataFrame, value: str) -> list[str]:
    return [interval(v, lo, hi) for v, lo, hi in zip(frame[value], frame["ci_low"], frame["ci_high"])]


def _gains_section(table_: pd.DataFrame, max_rows: int) -> Section:
    if not len(table_) or "gain" not in table_.columns or not table_["gain"].notna().any():
        return Section("gains", "Gain over the baseline", "sections/study_gains.html", {"none": True})
    subjects, group = split_recordings(table_)
    data: dict[str, Any] = {"none": False, "n_subjects": subjects["subject"].nunique(), "subjects": None,
                            "group": None, "figures": [figure(plot_gain_profile(table_),
                                                              "Gain in r over the baseline per layer; above 0 = the "
                                                              "layer adds to the baseline.")]}
    per_subject = subject_gains(table_)
    if len(per_subject):
        data["subjects"] = table(pd.DataFrame({
            "model": per_subject["model"], "layer": per_subject["layer"],
            "mean gain over subjects [95% CI]": _gain_cells(per_subject, "mean"),
            "subjects": per_subject["n_subjects"],
            "CI above 0": np.where(per_subject["ci_low"] > 0, "yes", "no")}), max_rows)
    own = group_gains(table_)
    if len(own):
        data["group"] = table(pd.DataFrame({
            "model": own["model"], "layer": own["layer"],
            "group-average gain [mean of per-target 95% CIs]": _gain_cells(own, "gain"),
            **({"min p_fdr over targets": own["min p_fdr over targets"]} if "min p_fdr over targets" in own else {})}),
            max_rows)
    return Section("gains", "Gain over the baseline", "sections/study_gains.html", data)


def _roi_section(table_: pd.DataFrame, max_rows: int) -> Section | None:
    if not len(table_) or "gain" not in table_.columns or not table_["gain"].notna().any():
        return None
    n_targets = table_["target"].nunique()
    if n_targets > MAX_TARGETS_PER_TABLE:
        return Section("rois", "Per target (ROI)", "sections/rois.html", {"too_many": (
            f"{n_targets} targets (voxels or sensors): per-target tables are left out of the page; every value is "
            "in study_scores.tsv (one row per model, layer, recording and target).")})
    subjects = subject_gains(table_, by_target=True)
    group = group_gains(table_, by_target=True)
    keys = ["model", "layer", "target"]
    tables = []
    for model in dict.fromkeys(table_["model"]):
        frame = pd.DataFrame(columns=keys)
        if len(subjects):
            sub = subjects[subjects["model"] == model]
            n = sub["n_subjects"].astype(int).astype(str)
            frame = pd.DataFrame({
                "model": sub["model"], "layer": sub["layer"], "target": sub["target"],
                "subjects: mean gain [95% CI]": _gain_cells(sub, "mean"),
                "subjects with own CI above 0": sub.get("subjects_ci_above_0", pd.Series(np.nan, sub.index))
                .astype("Int64").astype(str) + "/" + n,
                "subjects with p_fdr < 0.05": sub.get("subjects_p_fdr_below_05", pd.Series(np.nan, sub.index))
                .astype("Int64").astype(str) + "/" + n})
        if len(group):
            own = group[group["model"] == model]
            own = pd.DataFrame({"model": own["model"], "layer": own["layer"], "target": own["target"],
                                "group average: gain [95% CI]": _gain_cells(own, "gain"),
                                "group average: p_fdr": own.get("p_fdr", pd.Series(np.nan, own.index))})
            frame = frame.merge(own, on=keys, how="outer", sort=False) if len(frame) else own
        tables.append((f"{model}: gain over the baseline per layer and target", table(frame.drop(columns="model"),
                                                                                   max_rows)))
    return Section("rois", "Per target (ROI)", "sections/rois.html", {"too_many": None, "tables": tables})


def _joint_section(study_dir: Path, summary: dict) -> Section | None:
    """Models fitted together: mean joint / unique / shared R² and the variance partition of each recording."""
    recordings = summary.get("joint_recordings") or []
    if not recordings:
        return None
    head = pd.DataFrame([summary.get("joint_headline") or {}]).T.rename(columns={0: "mean over targets"})
    empty, figures = [], []
    for rec in recordings[:4]:
        result = MultimodalResult.load(study_dir / "joint" / rec)
        if not (result.scores["joint"] > 0).any():  # nothing predicted: a figure would be empty
            empty.append(f"joint/{rec}: no target has a held-out joint R² above 0.")
            continue
        figures.append(figure(plot_variance_partition(result, title=f"variance partition: {rec}"), f"joint/{rec}"))
    return Section("joint", "Models fitted together", "sections/joint.html", {
        "head": table(head.round(4).reset_index().rename(columns={"index": "quantity"}), 40),
        "empty": empty, "figures": figures})


def _maps_section(study_dir: Path, summary: dict, table_: pd.DataFrame) -> Section:
    figures, warnings = [], []
    recordings = summary.get("recordings", [])
    subjects = [r for r in recordings if r != "group"]
    for model in summary.get("models", []):
        for rec in (["group"] if "group" in recordings else []) + subjects[:1]:
            map_file = study_dir / model / rec / "maps" / "best_layer.nii.gz"
            if not map_file.is_file():
                continue
            from nilearn.image import index_img

            layers = list(table_[table_.model == model].drop_duplicates("layer").sort_values("depth")["layer"])
            try:
                display = draw_layer_labels(index_img(str(map_file), 0), layers, title=f"{model} — {rec}")
                figures.append(figure(display, f"{model}/{rec}/maps/best_layer.nii.gz: highest-r layer per voxel "
                                               "(axial slices; not tested against the baseline)"))
            except Exception as err:  # noqa: BLE001 - a map that cannot be drawn is reported, not fatal
                warnings.append(f"{model}/{rec}: map not drawn ({err}).")
            break
        for rec in subjects:  # intracranial sweeps: the glass-brain PNG written by the sweep, per subject
            png = study_dir / model / rec / "maps" / "electrodes_best_r.png"
            if png.is_file():
                figures.append(Figure(png.read_bytes(), f"{model}/{rec}/maps/electrodes_best_r.png: best-layer r per "
                                                        f"contact (table: {model}/{rec}/maps/electrodes.tsv)"))
    return Section("maps", "Best-layer maps", "sections/maps.html", {
        "intro": None, "figures": figures, "warnings": warnings, "more": 0,
        "empty": None if figures or warnings else "No image maps (ROI or sensor data, or maps = false)."})


_INSTRUCTION_METHOD = (
    "How the best instruction is chosen: each instruction of a model at its own best layer (largest mean held-out r "
    "over the subjects' recordings and targets; the group average's when there are no subjects), then per recording "
    "and target the instruction with the largest held-out r at that layer. Counts are over subjects; the group "
    "average is counted apart. Maps: value = instruction number of the legend, 0 where no instruction has r > 0.")


def fold_instructions(table_: pd.DataFrame) -> pd.DataFrame:
    """A study table with its instruction models as one model per instruction (``"model [instruction]"``).

    The sections that compare models and layers then treat each instruction as
    its own model; a table without an ``instruction`` column is returned as is.
    """
    if "instruction" not in table_.columns:
        return table_
    names = table_["instruction"].fillna("").astype(str)
    out = table_.drop(columns="instruction")
    out["model"] = np.where(names != "", out["model"].astype(str) + " [" + names + "]", out["model"])
    return out


def _instruction_section(study_dir: Path, summary: dict, max_rows: int) -> Section | None:
    """Best instruction per target: counts per target (ROI data) or per recording, and the maps."""
    order = summary.get("instructions") or {}
    counts_file = study_dir / "best_instruction_counts.tsv"
    if not order or not counts_file.is_file():
        return None
    counts = pd.read_csv(counts_file, sep="\t", dtype={"target": str})
    best = pd.read_csv(study_dir / "best_instruction.tsv", sep="\t", dtype={"target": str, "subject": str})
    tables, figures, warnings = [], [], []
    for model, names in order.items():
        frame = counts[counts.model == model]
        if frame["target"].nunique() <= MAX_TARGETS_PER_TABLE:
            wide = frame.assign(cell=frame["recordings"].astype(str) + "/" + frame["of"].astype(str)).pivot_table(
                index=["kind", "target"], columns="instruction", values="cell", aggfunc="first", sort=False)
            title = f"{model}: recordings preferring each instruction, per target"
        else:  # voxels or sensors: how many targets each recording gives to each instruction
            own = best[best.model == model]
            wide = own.groupby(["kind", "subject"], sort=False)["best"].value_counts().unstack(fill_value=0)
            title = f"{model}: targets preferring each instruction, per recording"
        wide = wide.reindex(columns=[n for n in names if n in wide.columns]).reset_index()
        wide.columns.name = None
        tables.append((title, table(wide, max_rows)))
        recordings = [r for r in summary.get("recordings", []) if r != "group"][:1] + (
            ["group"] if "group" in summary.get("recordings", []) else [])
        for rec in recordings:
            map_file = study_dir / model / "maps" / f"best_instruction_{rec}.nii.gz"
            if not map_file.is_file():
                continue
            from nilearn.image import index_img

            try:
                display = draw_layer_labels(index_img(str(map_file), 0), names, title=f"{model} — {rec}",
                                            legend_title="best instruction")
                figures.append(figure(display, f"{model}/maps/best_instruction_{rec}.nii.gz (legend: "
                                               f"{model}/maps/best_instruction_legend.tsv)"))
            except Exception as err:  # noqa: BLE001 - a map that cannot be drawn is reported, not fatal
                warnings.append(f"{model}/{rec}: best-instruction map not drawn ({err}).")
    return Section("instructions", "Best instruction per target", "sections/instructions.html", {
        "method": _INSTRUCTION_METHOD, "tables": tables, "figures": figures, "warnings": warnings})


def study_settings(study_dir: Path, summary: dict) -> tuple[dict, pd.DataFrame | None]:
    """Resolved analysis settings and model fingerprints recorded in a study folder.

    Settings come from each model's first sweep (``<model>/<recording>/summary.json``
    and a layer's ``result.json``: estimator and its options, alphas, CV and
    gap, baselines, gain test) and the designs of the work folder (alignment
    method and HRF); a setting that differs between models is listed per model.
    """
    per_model: dict[str, dict] = {}
    instructions = summary.get("instructions") or {}
    for model in summary.get("models", []):
        for rec in summary.get("recordings", [])[:1]:
            settings: dict[str, Any] = {}
            # a model with instructions has one sweep per instruction: its first one tells the settings
            folder = study_dir / model / rec
            if model in instructions:
                folder = study_dir / model / f"instruction-{instructions[model][0]}" / rec
            sweep = folder / "summary.json"
            if sweep.is_file():
                config = load_json(sweep).get("config") or {}
                for key in ("baseline", "baseline_combination", "autocorrelation_baseline", "gain_test"):
                    if key in config:
                        settings[key] = config[key]
            for result in sorted((folder / "layers").glob("*/result.json"))[:1]:
                for key, value in (load_json(result).get("config") or {}).items():
                    if key not in ("design", "bands"):
                        settings[f"encoding: {key}"] = value
            per_model[model] = settings
    merged: dict[str, Any] = {}
    for key in dict.fromkeys(k for s in per_model.values() for k in s):
        values = {m: s.get(key) for m, s in per_model.items()}
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) == 1:
            merged[key] = next(iter(values.values()))
        else:
            merged.update({f"{m}: {key}": v for m, v in values.items()})
    alignment: dict[str, set] = {}
    for design in sorted((study_dir / ".work" / "designs").glob("*/design/design.json")):
        meta = load_json(design).get("metadata") or {}
        for key in ("method", "hrf_model", "events_as", "oversampling", "delays", "tmin", "tmax", "normalize"):
            if key in meta:
                value = meta[key]
                alignment.setdefault(f"alignment: {key}", set()).add(
                    value if isinstance(value, str) else json.dumps(value, default=str))
    merged.update({k: ", ".join(sorted(v)) for k, v in alignment.items()})
    for design in sorted((study_dir / ".work" / "recordings").glob("*/baseline/design.json"))[:1]:
        info = load_json(design)
        meta = info.get("metadata") or {}
        merged["baseline features"] = ", ".join(map(str, info.get("feature_names") or []))
        if meta.get("source") or meta.get("method"):
            merged["baseline source"] = meta.get("source") or meta.get("method")
    rows = []
    for task in sorted((study_dir / ".work" / "features").glob("*/task.json")):
        info = load_json(task)
        prov = info.get("provenance") or {}
        rows.append({"features": info.get("label", task.parent.name), "model": prov.get("model_id", ""),
                     "fingerprint": prov.get("model_fingerprint", ""), "revision": prov.get("revision") or "",
                     "layers": ", ".join(info.get("layer_names") or []),
                     "context tokens": prov.get("context_tokens", ""), "pooling": prov.get("pooling", "")})
    return merged, (pd.DataFrame(rows) if rows else None)


def study_report(study_dir: str | Path, out: str | Path | None = None, *, title: str | None = None,
                 max_table_rows: int = 80, n_bootstraps: int = 2000) -> Path:
    """One self-contained HTML page comparing the models of a study folder.

    The page opens with a verdict per model: its best layer with the
    uncertainty of that choice (interval over subjects, share of bootstrap
    resamples, layers not distinguishable from it), or "no layer beats the
    baseline" when no layer's gain interval lies above 0.  Then the layer
    profiles with the baseline (and noise ceiling), the gain over the
    baseline with intervals for the subjects and, separately, the group
    average, per-ROI tables, joint fits, "Where does A beat B?" (the
    study's ``[comparisons]``: targets won per comparison with CIs and FDR,
    subjects and group average apart, per region, composite-site maps), model
    comparisons (``model_comparison*.tsv``), best-layer maps on slices and the
    provenance (resolved settings, model fingerprints, versions, hashes).

    Parameters
    ----------
    study_dir : path
        A folder written by ``brainalign run`` / :func:`brainalign.pipeline.run_study`.
    out : path, optional
        Output file; default ``study_dir / "report.html"``.
    title : str, optional
    max_table_rows : int
    n_bootstraps : int
        Resamples of the subjects for the best layer's uncertainty.

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> study_report("results/alice-study")  # doctest: +SKIP
    PosixPath('results/alice-study/report.html')
    """
    study_dir = Path(study_dir)
    summary_file = study_dir / "summary.json"
    if not summary_file.is_file():
        raise BrainalignInputError(f"{study_dir} is not a finished study folder (no summary.json).")
    summary = load_json(summary_file)
    if summary.get("kind") != "study":
        raise BrainalignInputError(f"{study_dir} is not a study folder (summary kind {summary.get('kind')!r}).")
    table_ = pd.read_csv(study_dir / "study_scores.tsv", sep="\t", dtype={"target": str, "subject": str,
                                                                        "instruction": str})
    table_ = fold_instructions(table_)
    sections: list[Section | None] = []
    notes: list[str] = []
    if len(table_):
        verdict, _ = _verdict_section(table_, summary, n_bootstraps)
        sections.append(verdict)
    sections.append(_joint_section(study_dir, summary))
    rsa = rsa_section(study_dir, summary, max_table_rows)
    if len(table_) or rsa is None:  # an RSA-only study has no encoding sections to show
        sections.append(_profiles_section(table_, _ceilings(study_dir)))
        sections.append(_gains_section(table_, max_table_rows))
    sections.append(_roi_section(table_, max_table_rows))
    sections.append(where_section(study_dir, max_table_rows))
    sections.append(rsa)
    sections += comparison_sections(study_dir, study_dir / "tables", max_rows=max_table_rows)
    sections.append(_maps_section(study_dir, summary, table_))
    sections.append(_instruction_section(study_dir, summary, max_table_rows))
    present = [s for s in sections if s is not None]
    settings, models = study_settings(study_dir, summary)
    hashes = {f"{cell} recording": values.get("recording", "?")
              for cell, values in (summary.get("data_hashes") or {}).items()}
    out_path = Path(out) if out is not None else study_dir / "report.html"
    render("study.html", out_path, title=title or f"brainalign study: {summary.get('name', study_dir.name)}",
           kind="study", created=summary.get("created", "?"), written=now(), folder=str(study_dir.resolve()),
           nav=[(s.id, s.title) for s in present], notes=notes, cards=[], card_notes=[], sections=present,
           provenance=provenance(summary, settings=settings, models=models, hashes=hashes,
                                 hashes_title="Recording hashes (SHA-256)",
                                 skip=("models", "recordings", "name", "tables", "joint_headline",
                                       "joint_recordings", "comparison_headline", "comparison_recordings",
                                       "rsa_headline", "rsa_recordings")))
    logger.info("Study report written to %s", out_path)
    return out_path


#: the name the study page had in brainalign.plotting
write_study_report = study_report
