"""Honest gains on a simulation with known truth: which targets carry layer signal (issue #11).

The simulation of ``tests/test_encoding_gain.py``: 600 scans in 3 runs, a
2-column smooth baseline, a 6-column smooth layer, AR(1) noise; 20 targets get
baseline + layer signal, 20 get the baseline only.  Every estimator is scored
with ``sweep_layers`` (leave-one-run-out, paired block bootstrap of the gain),
over 5 seeds.  A fair estimator keeps the gain's interval at or above 0 where
the layer carries nothing, and finds the gain where it does.

    python benchmarks/gains_simulation.py
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

SEEDS = (1, 2, 4, 5, 6)
VARIANTS = {"stacked (1 SE)": {"estimator": "stacked"},
            "pcr, gate 0.5 SE": {"estimator": "pcr", "gate_se": 0.5},
            "pcr, gate 1 SE (default)": {"estimator": "pcr"},
            "pcr, gate 1.5 SE": {"estimator": "pcr", "gate_se": 1.5}}


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_encoding_gain import N_HALF, _simulate

    from brainalign.encoding import sweep_layers

    print(f"{len(SEEDS)} seeds x {N_HALF} targets with and {N_HALF} without layer signal")
    print(f"{'estimator':<28s} {'null: CI<0':>10s} {'mean gain':>10s} {'worst':>7s} {'worst/CI width':>15s}"
          f" {'left out':>9s} | {'signal: gain':>12s} {'CI>0':>5s}")
    for label, options in VARIANTS.items():
        rows = []
        for seed in SEEDS:
            design, baseline, recording = _simulate(seed=seed)
            sweep = sweep_layers({"layer.3": design}, recording, baseline=baseline, autocorrelation=False,
                                 backend="numpy", gain_bootstraps=400, **options)
            rows.append(sweep.gain_table())
        null = np.concatenate([t.iloc[N_HALF:].to_numpy() for t in rows])
        sig = np.concatenate([t.iloc[:N_HALF].to_numpy() for t in rows])
        cols = list(rows[0].columns)
        g, lo, hi = (cols.index(c) for c in ("gain", "ci_low", "ci_high"))
        null_g, null_w = null[:, g].astype(float), (null[:, hi] - null[:, lo]).astype(float)
        ratio = np.min(np.where(null_w > 0, null_g / np.where(null_w > 0, null_w, 1), 0))
        print(f"{label:<28s} {int((null[:, hi] < 0).sum()):>6d}/{len(null):<3d} {null_g.mean():>+10.4f}"
              f" {null_g.min():>+7.3f} {ratio:>15.2f} {np.mean(null_g == 0):>9.2f} |"
              f" {sig[:, g].astype(float).mean():>+12.3f} {int((sig[:, lo] > 0).sum()):>5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
