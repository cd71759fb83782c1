"""Honest gains on other splits of the Alice participants (issue #11).

A default must not be tuned to one group of participants.  This runs
``sweep_layers`` (MiniLM, 128 tokens of context, HRF designs, word rate +
sound power as baseline, default CV) on the group average of six subsets of
the 13 usable participants: all 13, odd / even halves, the first 4, the
middle 5 and the last 4, with three pure-noise layers (Gaussian word features
through the same HRF) next to the 7 real ones.  Per subset and estimator:

* the best real layer's mean gain and how many of its 6 ROI intervals lie above 0;
* how many of the 42 real layer x ROI intervals lie *below* 0 (a layer that
  loses to the baseline: the fit went wrong, not the brain) and the worst gain;
* how many of the 18 noise layer x ROI intervals lie below 0.

    python benchmarks/alice_gains_splits.py --cache-dir /tmp/brainalign-features
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

ESTIMATORS = {"stacked (1 SE)": {"estimator": "stacked"},
              "pcr (default)": {"estimator": "pcr"},
              "pcr, gate 0.5 SE": {"estimator": "pcr", "gate_se": 0.5},
              "pcr, gate 0 SE": {"estimator": "pcr", "gate_se": 0.0}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default="/tmp/brainalign-features")
    parser.add_argument("--bootstraps", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from alice_encoding import default_model, group

    from brainalign.alignment import make_designs
    from brainalign.core import FeatureSet
    from brainalign.datasets import list_subjects_alice
    from brainalign.encoding import sweep_layers
    from brainalign.features import extract_text_features

    subjects = sorted((s for s in list_subjects_alice() if s != "s33"), key=lambda s: int(s[1:]))
    subsets = {"all 13": subjects, "odd": subjects[0::2], "even": subjects[1::2], "first 4": subjects[:4],
               "middle 5": subjects[4:9], "last 4": subjects[-4:]}
    totals = {label: np.zeros(4) for label in ESTIMATORS}
    print(f"{'subset':<9s} {'estimator':<18s} {'best layer':<11s} {'gain':>6s} {'CI>0':>5s} | "
          f"{'real CI<0':>9s} {'worst':>7s} | {'noise CI<0':>10s}")
    for name, subset in subsets.items():
        timeline, recording, baseline = group(subset)
        features = extract_text_features(timeline, default_model(), context_tokens=128, cache_dir=args.cache_dir)
        designs = dict(make_designs(features, recording, "hrf"))
        width = designs[next(iter(designs))].n_features
        for seed in (11, 12, 13):
            rng = np.random.default_rng(seed)
            noise = FeatureSet({f"noise{seed}": rng.normal(size=(timeline.n_events, width)).astype(np.float32)},
                               timeline)
            designs[f"noise{seed}"] = make_designs(noise, recording, "hrf")[f"noise{seed}"]
        for label, options in ESTIMATORS.items():
            sweep = sweep_layers(designs, recording, baseline=baseline, autocorrelation=False,
                                 gain_bootstraps=args.bootstraps, **options)
            table = sweep.gain_table()
            is_noise = table["layer"].str.startswith("noise")
            real, noise = table[~is_noise], table[is_noise]
            best = real.groupby("layer")["gain"].mean().idxmax()
            best_rows = real[real["layer"] == best]
            row = [best_rows["gain"].mean(), (best_rows["ci_low"] > 0).sum(), (real["ci_high"] < 0).sum(),
                   (noise["ci_high"] < 0).sum()]
            totals[label] += row
            print(f"{name:<9s} {label:<18s} {best:<11s} {row[0]:+6.3f} {row[1]:>3d}/6 | {row[2]:>6d}/42 "
                  f"{real['gain'].min():+7.3f} | {row[3]:>7d}/18", flush=True)
    n = len(subsets)
    print("over the subsets: sum of best-layer gains, best-layer intervals above 0, real and noise intervals below 0")
    for label, (gain, above, real_below, noise_below) in totals.items():
        print(f"  {label:<18s} {gain:+.3f}  {int(above)}/{6 * n}  {int(real_below)}/{42 * n}  {int(noise_below)}/{18 * n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
