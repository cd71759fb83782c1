"""The "Where does A beat B?" section of a study report, from the study's ``[comparisons]`` tables.

Reads ``comparison_counts.tsv``, ``comparisons.tsv`` and (when the recordings
label their targets with regions) ``comparison_regions.tsv`` of a study
folder.  Subjects and the group-average recording are shown in tables and
figures of their own: a group average is one recording, not one more subject.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._render import Section, figure, interval, read_tsv, table

#: per-target bars are drawn for ROI studies; voxel or sensor studies get the counts only
MAX_TARGET_BARS = 40
CRITERION = "criterion: all of against"

_METHOD = ("Each comparison tests, per target, the held-out r of model A minus that of model B on the same outer "
           "folds: paired circular block bootstrap of the test rows, the resamples drawn once per recording and "
           "shared by every model of the study; the interval is the 95% percentile interval; p is corrected by "
           "Benjamini-Hochberg within each pair (p_fdr). A target is won by A when p_fdr < q and the difference "
           "is positive (by B when negative, for two-sided tests). The criterion row counts the targets where A "
           "wins against every model of 'against'. A bare model name uses, per recording, the layer best on the "
           "other subjects.")


def _range(values: pd.Series) -> str:
    values = values.dropna().astype(int)
    if values.empty:
        return ""
    if values.min() == values.max():
        return f"{values.mean():g}"
    return f"{values.mean():.3g} ({values.min()}–{values.max()})"


def _subject_counts(counts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (name, a, b), frame in counts.groupby(["comparison", "model_a", "model_b"], sort=False):
        criterion = b == CRITERION
        rows.append({
            "comparison": name, "A": a, "B": b, "subjects": frame["subject"].nunique(),
            "targets": int(frame["n_targets"].iloc[0]),
            "A wins: mean (range) over subjects": _range(frame["a_wins"]),
            "B wins": "" if criterion else _range(frame["b_wins"]),
            "mean difference [mean of per-target 95% CI bounds]": "" if criterion else interval(
                frame["difference"].mean(), frame["ci_low"].mean(), frame["ci_high"].mean()),
            "smallest p_fdr": "" if criterion else f"{frame['min_p_fdr'].min():.3g}",
            "q": "" if criterion else f"{frame['q'].iloc[0]:g}"})
    return pd.DataFrame(rows)


def _group_counts(counts: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, row in counts.iterrows():
        criterion = row["model_b"] == CRITERION
        rows.append({"comparison": row["comparison"], "A": row["model_a"], "B": row["model_b"],
                     "targets": int(row["n_targets"]), "A wins": int(row["a_wins"]),
                     "B wins": "" if criterion else int(row["b_wins"]),
                     "mean difference [mean of per-target 95% CI bounds]": "" if criterion else interval(
                         row["difference"], row["ci_low"], row["ci_high"]),
                     "smallest p_fdr": "" if criterion else f"{row['min_p_fdr']:.3g}"})
    return pd.DataFrame(rows)


def _bars(frame: pd.DataFrame, *, by: str, value: str, title: str, ylabel: str):
    """One panel per comparison: a bar per region (or target) per pair."""
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(frame["comparison"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(max(6.0, 0.35 * frame[by].nunique() + 3), 2.6 * len(names)),
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        own = frame[frame["comparison"] == name].pivot_table(index=by, columns="pair", values=value, sort=False)
        own.plot.bar(ax=ax, width=0.8)
        ax.set_title(f"{name}", fontsize=10)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)
        ax.set_xlabel("")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _region_figures(study_dir: Path, tidy: pd.DataFrame) -> list:
    """Share of targets won per region (subjects: mean over subjects; the group average apart)."""
    regions = read_tsv(study_dir / "comparison_regions.tsv") if (study_dir / "comparison_regions.tsv").is_file() \
        else None
    by, what = "region", "region"
    if regions is None:
        if tidy["target"].nunique() > MAX_TARGET_BARS:
            return []
        # ROI data: each target is a region; a target is won when A wins it (the criterion: every pair)
        won = tidy.assign(pair=tidy["model_a"] + " > " + tidy["model_b"],
                          n_significant=(tidy["wins"] == tidy["model_a"]).astype(int), n_targets=1)
        regions = won.rename(columns={"target": "region"})
        by, what = "region", "target"
    figures = []
    for kind, label in (("subject", "Subjects"), ("group", "Group average")):
        own = regions[regions["kind"] == kind]
        if own.empty:
            continue
        frac = (own.groupby(["comparison", "pair", by], sort=False)[["n_significant", "n_targets"]].sum()
                .reset_index())
        frac["fraction"] = frac["n_significant"] / frac["n_targets"]
        caption = (f"{label}: share of {'targets of each region' if what == 'region' else 'recordings'} where A wins "
                   + ("(pooled over subjects' targets; the group average is drawn apart)" if kind == "subject"
                      else "(the group-average recording alone)"))
        figures.append(figure(_bars(frac, by=by, value="fraction", title=label, ylabel="share won by A"), caption))
    return figures


def _site_maps(study_dir: Path, recordings: list[str]) -> tuple[list, list[str]]:
    """Slices of the composite-site maps: the group average's and the first subject's, never mixed."""
    figures, warnings = [], []
    shown = (["group"] if "group" in recordings else []) + [r for r in recordings if r != "group"][:1]
    for rec in shown:
        for path in sorted((study_dir / "comparisons" / rec / "maps").glob("*_sites.nii.gz")):
            from nilearn.plotting import plot_stat_map

            name = path.name[:-len("_sites.nii.gz")]
            try:
                import nibabel as nib

                n_slices = min(5, int(nib.load(str(path)).shape[2]))  # no more cuts than the volume has slices
                display = plot_stat_map(str(path), bg_img=None, threshold=0.5, display_mode="z", cut_coords=n_slices,
                                        colorbar=True, cmap="viridis", title=f"{name} — {rec}")
                figures.append(figure(display, f"comparisons/{rec}/maps/{path.name}: number of 'against' models "
                                               "beaten per voxel (the criterion's sites hold the largest value)"))
            except Exception as err:  # noqa: BLE001 - a map that cannot be drawn is reported, not fatal
                warnings.append(f"{rec}/{path.name}: map not drawn ({err}).")
    return figures, warnings


def where_section(study_dir: str | Path, max_rows: int = 80) -> Section | None:
    """The "Where does A beat B?" section of a study with ``[comparisons]`` (None without them).

    Examples
    --------
    >>> import tempfile
    >>> where_section(tempfile.mkdtemp()) is None
    True
    """
    study_dir = Path(study_dir)
    if not (study_dir / "comparison_counts.tsv").is_file():
        return None
    counts = pd.read_csv(study_dir / "comparison_counts.tsv", sep="\t", dtype={"subject": str})
    tidy = pd.read_csv(study_dir / "comparisons.tsv", sep="\t", dtype={"target": str, "subject": str, "wins": str})
    tidy["wins"] = tidy["wins"].fillna("")
    subjects, group = counts[counts["kind"] == "subject"], counts[counts["kind"] == "group"]
    won = tidy.loc[tidy["wins"] != ""].sort_values("p_fdr")
    shown = pd.DataFrame({
        "comparison": won["comparison"], "recording": won["subject"], "A": won["model_a"], "B": won["model_b"],
        "target": won["target"], "won by": won["wins"],
        "difference A - B [95% CI]": [interval(d, lo, hi) for d, lo, hi in zip(won["difference"], won["ci_low"],
                                                                                won["ci_high"])],
        "p_fdr": won["p_fdr"]})
    # the layer each name stood for on each recording (bare model names choose theirs on the other subjects)
    layers = tidy.drop_duplicates(["subject", "model_a", "model_b"])[
        ["subject", "comparison", "model_a", "layer_a", "model_b", "layer_b"]].fillna("")
    maps, map_warnings = _site_maps(study_dir, list(dict.fromkeys(counts["subject"])))
    return Section("where", "Where does A beat B?", "sections/where.html", {
        "method": _METHOD,
        "subjects": table(_subject_counts(subjects), max_rows) if len(subjects) else None,
        "group": table(_group_counts(group), max_rows) if len(group) else None,
        "figures": _region_figures(study_dir, tidy),
        "targets": table(shown, max_rows) if len(shown) else None,
        "layers": table(layers, max_rows), "maps": maps, "map_warnings": map_warnings})
