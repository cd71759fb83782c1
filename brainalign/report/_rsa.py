"""The "Representational similarity" section of a study page: layer profiles per model and ROI, CIs, ceiling, FDR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._render import Section, figure, interval, table

__all__ = ["rsa_layer_profiles", "rsa_section"]

#: at most this many ROIs are drawn per model (every value stays in rsa_scores.tsv)
MAX_ROI_PANELS = 6


def rsa_layer_profiles(rsa: pd.DataFrame, *, recordings: str = "subjects", q: float = 0.05) -> pd.DataFrame:
    """RSA score per model, layer and ROI: the mean over subjects with a 95 % t interval, or the group alone.

    ``recordings="group"`` gives the group-average recording with its own
    bootstrap interval, ``"all-subjects"`` the rows scored on all subjects'
    RDMs together (``[rsa] bootstrap = "subjects"`` / ``"both"``: interval over
    subjects); subjects and the group average are never pooled.
    ``n_fdr`` counts the recordings whose ``p_fdr`` is below ``q``.

    Examples
    --------
    >>> t = pd.DataFrame({"model": "m", "layer": "l0", "layer_index": 0, "depth": 0.0, "roi": "all",
    ...                   "recording": ["s1", "s2"], "kind": "subject", "score": [0.2, 0.4], "ci_low": 0.1,
    ...                   "ci_high": 0.5, "p_fdr": [0.01, 0.2], "ceiling_low": 0.5, "ceiling_high": 0.7})
    >>> row = rsa_layer_profiles(t).iloc[0]
    >>> round(float(row["score"]), 2), int(row["n_recordings"]), int(row["n_fdr"])
    (0.3, 2, 1)
    """
    from scipy import stats

    from ..core import BrainalignInputError

    kinds = {"subjects": "subject", "group": "group", "all-subjects": "all-subjects"}
    if recordings not in kinds:
        raise BrainalignInputError(f"recordings must be one of {sorted(kinds)}, got {recordings!r}.")
    keys = ["model", "layer", "layer_index", "depth", "roi"]
    columns = keys + ["score", "ci_low", "ci_high", "n_recordings", "n_fdr", "ceiling_low", "ceiling_high"]
    rsa = rsa[rsa["kind"].astype(str) == kinds[recordings]]
    rows = []
    for key, frame in rsa.groupby(keys, sort=False):
        n = len(frame)
        mean = float(frame["score"].mean())
        if n < 2:  # one row: its own bootstrap interval (over conditions, or subjects for all-subjects rows)
            low, high = float(frame["ci_low"].iloc[0]), float(frame["ci_high"].iloc[0])
        else:
            half = stats.t.ppf(0.975, n - 1) * frame["score"].std(ddof=1) / np.sqrt(n)
            low, high = mean - half, mean + half
        rows.append({**dict(zip(keys, key)), "score": mean, "ci_low": low, "ci_high": high, "n_recordings": n,
                     "n_fdr": int((frame["p_fdr"] < q).sum()), "ceiling_low": float(frame["ceiling_low"].mean()),
                     "ceiling_high": float(frame["ceiling_high"].mean())})
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["model", "roi", "layer_index"]).reset_index(drop=True)


def _profile_figure(profile: pd.DataFrame, model: str, what: str):
    import matplotlib.pyplot as plt

    rois = list(dict.fromkeys(profile["roi"]))[:MAX_ROI_PANELS]
    fig, axes = plt.subplots(1, len(rois), figsize=(3.6 * len(rois) + 0.6, 3.0), squeeze=False, sharey=True)
    for ax, roi in zip(axes[0], rois):
        frame = profile[profile["roi"] == roi].sort_values("layer_index")
        x = frame["layer_index"].to_numpy()
        ceiling = frame[["ceiling_low", "ceiling_high"]].iloc[0].to_numpy(dtype=float)
        if np.isfinite(ceiling).all():
            ax.axhspan(*ceiling, color="0.85", label="noise ceiling")
        ax.fill_between(x, frame["ci_low"], frame["ci_high"], alpha=0.3, color="C0", label="95% CI")
        ax.plot(x, frame["score"], "-", color="C0")
        # filled marker: at least half of the recordings have p_fdr below q (the group: its own p_fdr)
        marked = frame["n_fdr"] >= np.ceil(frame["n_recordings"] / 2)
        ax.plot(x[marked], frame["score"][marked], "o", color="C0", label="FDR-significant" if marked.any() else None)
        ax.plot(x[~marked], frame["score"][~marked], "o", mfc="white", color="C0")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xticks(x, frame["layer"], rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{model} — {roi}", fontsize=9)
    axes[0][0].set_ylabel(f"RDM similarity ({what})")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def rsa_section(study_dir: Path, summary: dict, max_rows: int = 80) -> Section | None:
    """The section of a study with ``rsa_scores.tsv``; ``None`` without RSA."""
    path = Path(study_dir) / "rsa_scores.tsv"
    if not path.is_file():
        return None
    rsa = pd.read_csv(path, sep="\t", dtype={"recording": str, "roi": str})
    q = float(summary.get("rsa_q", 0.05))
    options = (summary.get("config") or {}).get("rsa") or {}
    what = options.get("comparison", "spearman")
    parts = []
    resampled = "subjects" if options.get("bootstrap") == "subjects" else "subjects and conditions"
    captions = {"subjects": "band = 95% t interval over the subjects' scores",
                "all-subjects": f"all subjects' RDMs together, band = bootstrap over {resampled}",
                "group": "band = bootstrap interval over conditions"}
    for recordings, title in (("subjects", "Subjects"), ("all-subjects", "Subjects together (bootstrap over subjects)"),
                              ("group", "Group average (on its own)")):
        profile = rsa_layer_profiles(rsa, recordings=recordings, q=q)
        if profile.empty:
            continue
        n = int(profile["n_recordings"].max())
        caption = (f"{title}: " + (f"mean over {n} subjects, " if recordings == "subjects" else "")
                   + f"{captions[recordings]}; grey band = noise ceiling; filled = p_fdr < {q} in at least half of "
                   "the recordings")
        figures = [figure(_profile_figure(profile[profile.model == m], m, what), caption)
                   for m in dict.fromkeys(profile["model"])]
        cells = pd.DataFrame({
            "model": profile["model"], "layer": profile["layer"], "ROI": profile["roi"],
            "score [95% CI]": [interval(v, lo, hi, 3) for v, lo, hi in
                               zip(profile["score"], profile["ci_low"], profile["ci_high"])],
            f"p_fdr < {q}": profile["n_fdr"].astype(str) + "/" + profile["n_recordings"].astype(str),
            "noise ceiling": [f"[{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else "n/a"
                              for lo, hi in zip(profile["ceiling_low"], profile["ceiling_high"])]})
        parts.append({"title": title, "figures": figures, "table": table(cells, max_rows)})
    return Section("rsa", "Representational similarity", "sections/rsa.html", {
        "parts": parts, "comparison": what, "conditions": options.get("conditions", "segments"),
        "rdm_method": options.get("rdm_method", "correlation"), "q": q})
