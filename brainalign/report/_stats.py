"""The numbers an honest study report rests on: subjects and group average apart, CIs, best layer with uncertainty.

A study table (``study_scores.tsv``) has one row per model, layer, recording
and target.  A group-average recording (``kind == "group"``, recording
``"group"``) is not one more subject: its r is higher (averaging removes
noise) and it is not independent of the subjects.  Every summary here is
computed over subjects only, and the group average is summarised on its own
with its own bootstrap interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..core import BrainalignInputError

#: level of every interval in the study report
CI_LEVEL = 0.95


def split_recordings(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(subjects, group)`` rows of a study table.

    The group average is the rows with ``kind == "group"`` (what
    :func:`brainalign.run_study` writes for ``group_average = true``), or, in a
    table without a ``kind`` column, the recording named ``"group"``.

    Examples
    --------
    >>> t = pd.DataFrame({"subject": ["s1", "s2", "group"], "kind": ["subject", "subject", "group"]})
    >>> [len(part) for part in split_recordings(t)]
    [2, 1]
    """
    if "kind" in table.columns:
        is_group = table["kind"].astype(str) == "group"
    elif "subject" in table.columns:
        is_group = table["subject"].astype(str) == "group"
    else:
        raise BrainalignInputError(f"A study table needs a 'subject' (or 'kind') column; it has {list(table.columns)}.")
    return table[~is_group], table[is_group]


def t_interval(values, level: float = CI_LEVEL) -> tuple[float, float, float, int]:
    """Mean and its t confidence interval over independent units (e.g. subjects): ``(mean, low, high, n)``.

    With fewer than two finite values the interval is NaN (one value has no spread).

    Examples
    --------
    >>> mean, low, high, n = t_interval([0.1, 0.2, 0.3])
    >>> round(mean, 3), n, low < mean < high
    (0.2, 3, True)
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, np.nan, np.nan, n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half, n


def _layer_order(table: pd.DataFrame) -> pd.DataFrame:
    order = "layer_index" if "layer_index" in table.columns else ("depth" if "depth" in table.columns else None)
    cols = ["model", "layer"] + ([order] if order else [])
    layers = table[cols].drop_duplicates(["model", "layer"])
    if not order:
        return layers
    # models in the study's order (first appearance), layers by their position in the model
    rank = {m: i for i, m in enumerate(dict.fromkeys(table["model"]))}
    return layers.assign(_rank=layers["model"].map(rank)).sort_values(["_rank", order], kind="stable").drop(
        columns="_rank")


def subject_gains(table: pd.DataFrame, *, by_target: bool = False, value: str = "gain") -> pd.DataFrame:
    """Mean ``value`` per model and layer (and target) over subjects, with its 95 % t interval.

    Each subject's value is first averaged over targets (unless ``by_target``),
    so the subjects are the units of the interval.  Columns: ``model``,
    ``layer`` (``target``), ``mean``, ``ci_low``, ``ci_high``, ``n_subjects``
    and, per target, how many subjects' own bootstrap intervals lie above 0
    (``subjects_ci_above_0``) and how many have ``p_fdr < 0.05``.
    """
    subjects, _ = split_recordings(table)
    keys = ["model", "layer"] + (["target"] if by_target else [])
    rows = []
    if subjects.empty:
        return pd.DataFrame(columns=keys + ["mean", "ci_low", "ci_high", "n_subjects"])
    per_subject = subjects.groupby(keys + ["subject"], sort=False)[value].mean()
    for key, values in per_subject.groupby(level=keys, sort=False):
        mean, low, high, n = t_interval(values.to_numpy())
        rows.append(dict(zip(keys, key), mean=mean, ci_low=low, ci_high=high, n_subjects=n))
    out = pd.DataFrame(rows)
    if by_target and {"ci_low", "p_fdr"} <= set(subjects.columns):
        own = subjects.groupby(keys, sort=False).agg(
            subjects_ci_above_0=("ci_low", lambda c: int((c > 0).sum())),
            subjects_p_fdr_below_05=("p_fdr", lambda c: int((c < 0.05).sum())))
        out = out.merge(own.reset_index(), on=keys, how="left")
    order = _layer_order(table)[["model", "layer"]].reset_index(drop=True)
    return order.merge(out, on=["model", "layer"], how="inner")


def group_gains(table: pd.DataFrame, *, by_target: bool = False) -> pd.DataFrame:
    """The group average's gain per model and layer (and target) with its own bootstrap interval.

    Per target these are the study's paired block-bootstrap interval and FDR p
    of the group-average recording; averaged over targets, ``ci_low`` /
    ``ci_high`` are the means of the per-target bounds (an interval as wide as
    if the targets moved together: conservative, not a joint bootstrap).
    """
    _, group = split_recordings(table)
    keys = ["model", "layer"] + (["target"] if by_target else [])
    cols = [c for c in ("gain", "ci_low", "ci_high", "p_fdr") if c in group.columns]
    if group.empty or "gain" not in cols:
        return pd.DataFrame(columns=keys + ["gain", "ci_low", "ci_high"])
    agg = {c: "mean" for c in cols}
    if "p_fdr" in cols:
        agg["p_fdr"] = "min" if not by_target else "first"
    out = group.groupby(keys, sort=False).agg(agg).reset_index()
    if not by_target and "p_fdr" in out:
        out = out.rename(columns={"p_fdr": "min p_fdr over targets"})
    order = _layer_order(table)[["model", "layer"]].reset_index(drop=True)
    return order.merge(out, on=["model", "layer"], how="inner")


@dataclass
class BestLayer:
    """The best layer of one model with its uncertainty (see :func:`best_layer_summary`)."""

    model: str
    value: str  # "gain" (over the baseline) or "r" without a baseline
    units: str  # what the interval is over: "subjects", "targets of the group average", ...
    n_units: int
    layers: list[str]
    mean: np.ndarray  # per layer
    ci_low: np.ndarray
    ci_high: np.ndarray
    best: str
    share_best: float  # fraction of bootstrap resamples in which ``best`` is the best layer
    indistinguishable: list[str] = field(default_factory=list)  # layers not clearly worse than the best

    @property
    def has_baseline(self) -> bool:
        return self.value == "gain"

    @property
    def beating(self) -> list[str]:
        """Layers whose gain interval lies above 0."""
        if not self.has_baseline:
            return []
        return [name for name, low in zip(self.layers, self.ci_low) if np.isfinite(low) and low > 0]

    @property
    def beats_baseline(self) -> bool:
        return bool(self.beating)

    def sentence(self) -> str:
        """One plain sentence: the verdict on this model (used by the report and the log)."""
        i = self.layers.index(self.best)
        pct = int(round(CI_LEVEL * 100))
        ci = (f"[{self.ci_low[i]:+.4f}, {self.ci_high[i]:+.4f}]" if np.isfinite(self.ci_low[i])
              else "(no interval: one unit)")
        if self.has_baseline and not self.beats_baseline:
            return (f"{self.model}: no layer beats the baseline. No layer's gain in r over the baseline has a "
                    f"{pct}% CI above 0 over {self.n_units} {self.units} (largest mean gain "
                    f"{self.mean[i]:+.4f} {ci} at {self.best}), so no best layer is reported.")
        others = [n for n in self.indistinguishable if n != self.best]
        tied = (f"; not distinguishable from {', '.join(others)}" if others
                else "; every other layer is clearly worse")
        what = "gain in r over the baseline" if self.has_baseline else "mean r"
        return (f"{self.model}: best layer {self.best}, {what} {self.mean[i]:+.4f} {ci} ({pct}% CI over "
                f"{self.n_units} {self.units}); best in {self.share_best:.0%} of bootstrap resamples{tied}.")


def _unit_matrix(frame: pd.DataFrame, layers: list[str], value: str, unit: str) -> np.ndarray:
    wide = frame.groupby([unit, "layer"], sort=False)[value].mean().unstack("layer")
    return wide.reindex(columns=layers).to_numpy(dtype=np.float64)


def best_layer_summary(table: pd.DataFrame, *, n_bootstraps: int = 2000, seed: int = 0) -> list[BestLayer]:
    """Each model's best layer with its uncertainty, and whether any layer beats the baseline.

    The units of resampling are the subjects (each subject's score averaged
    over targets) when there are at least two; otherwise the targets of the
    single recording (the group average when there is one).  The value
    ranked is the gain over the baseline (``gain``) when the study fitted
    one, else ``r``.  Reported per layer: the mean and its 95 % t interval
    over units; for the best layer, the share of bootstrap resamples of the
    units in which it is the best, and the layers not distinguishable from it
    (the paired bootstrap interval of "best minus that layer" includes 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rows = [dict(model="m", layer=f"l{i}", layer_index=i, subject=f"s{s}", kind="subject", target="t",
    ...              r=0.1, gain=rng.normal(0, 0.01)) for i in range(3) for s in range(8)]
    >>> best_layer_summary(pd.DataFrame(rows))[0].beats_baseline
    False
    """
    missing = {"model", "layer", "subject", "r"} - set(table.columns)
    if missing:
        raise BrainalignInputError(f"A study table needs columns model, layer, subject, r; missing {sorted(missing)}.")
    subjects, group = split_recordings(table)
    rng = np.random.default_rng(seed)
    out = []
    for model, layer_frame in _layer_order(table).groupby("model", sort=False):
        layers = [str(n) for n in layer_frame["layer"]]
        own_subjects = subjects[subjects["model"] == model]
        own_group = group[group["model"] == model]
        value = "gain" if "gain" in table.columns and table.loc[table["model"] == model, "gain"].notna().any() else "r"
        if own_subjects["subject"].nunique() >= 2:
            frame, unit, units = own_subjects, "subject", "subjects"
        elif len(own_group):
            frame, unit, units = own_group, "target", "targets of the group average"
        else:
            frame, unit, units = own_subjects, "target", "targets"
        matrix = _unit_matrix(frame.assign(layer=frame["layer"].astype(str)), layers, value, unit)
        matrix = matrix[np.isfinite(matrix).all(axis=1)]
        n = matrix.shape[0]
        cis = [t_interval(matrix[:, j]) for j in range(len(layers))]
        mean = np.array([c[0] for c in cis])
        best = int(np.nanargmax(mean)) if n else 0
        share, tied = np.nan, [layers[best]]
        if n >= 2:
            draws = rng.integers(0, n, size=(n_bootstraps, n))
            boot = matrix[draws].mean(axis=1)  # (n_bootstraps, n_layers)
            share = float(np.mean(np.argmax(boot, axis=1) == best))
            diffs = boot[:, [best]] - boot
            low = np.quantile(diffs, (1 - CI_LEVEL) / 2, axis=0)
            tied = [name for name, lo in zip(layers, low) if lo <= 0]
        out.append(BestLayer(str(model), value, units, n, layers, mean, np.array([c[1] for c in cis]),
                             np.array([c[2] for c in cis]), layers[best], share, tied))
    return out


def model_comparison_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per pair of models: targets compared, where A wins, where B wins, and the mean paired difference.

    ``comparison`` is tidy, one row per (model_a, model_b, target) with the
    paired ``difference`` (A minus B), its interval ``ci_low`` / ``ci_high``
    and ``p_fdr``.  A target counts as a win for A when its interval lies
    above 0 and ``p_fdr < 0.05``, for B when below 0 and ``p_fdr < 0.05``.

    Examples
    --------
    >>> t = pd.DataFrame({"model_a": "deep", "model_b": "linear", "target": ["a", "b"], "difference": [0.1, 0.0],
    ...                   "ci_low": [0.05, -0.1], "ci_high": [0.15, 0.1], "p_fdr": [0.01, 0.9]})
    >>> model_comparison_summary(t)[["A wins", "B wins", "no difference"]].values.tolist()
    [[1, 0, 1]]
    """
    needed = {"model_a", "model_b", "target", "difference", "ci_low", "ci_high", "p_fdr"}
    missing = needed - set(comparison.columns)
    if missing:
        raise BrainalignInputError(f"A model comparison table needs columns {sorted(needed)}; missing "
                                   f"{sorted(missing)} (it has {list(comparison.columns)}).")
    rows = []
    for (a, b), pair in comparison.groupby(["model_a", "model_b"], sort=False):
        a_wins = (pair["ci_low"] > 0) & (pair["p_fdr"] < 0.05)
        b_wins = (pair["ci_high"] < 0) & (pair["p_fdr"] < 0.05)
        rows.append({"model A": a, "model B": b, "targets": len(pair),
                     "mean difference (A - B)": float(pair["difference"].mean()),
                     "A wins": int(a_wins.sum()), "B wins": int(b_wins.sum()),
                     "no difference": int(len(pair) - a_wins.sum() - b_wins.sum())})
    return pd.DataFrame(rows)
