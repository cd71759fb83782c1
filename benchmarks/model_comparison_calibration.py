"""Calibration and power of brainalign.encoding.compare_models on simulations with a known answer.

Null: two models whose features explain the same variance of every target
(per-target null: neither is better), 600 samples (5 contiguous folds, block
bootstrap of test rows) or 720 samples in 12 runs (leave-one-run-out, per-fold
t-test).  Power: targets where model A adds a signal as strong as the shared
one.  Prints the fraction of null targets with p < 0.05 (nominal 0.05) and of
planted targets with p_fdr < 0.05, per simulation and pooled, for the
two-sided p (the default) and the one-sided "A is better" p.

Run:  python benchmarks/model_comparison_calibration.py     (BRAINALIGN_FAST=1: 3 simulations)
"""

from __future__ import annotations

import os
import sys

import numpy as np
from scipy.stats import binomtest

from brainalign.core import Recording
from brainalign.encoding import compare_models, cross_validate, cross_validate_models

FAST = os.environ.get("BRAINALIGN_FAST", "0") == "1"
N_SIM = 3 if FAST else 10
N_NULL, N_PLANTED = 200, 40


def simulate(n: int, effect: float, seed: int):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    n_t = N_NULL + N_PLANTED

    def unit(w):
        return w / np.linalg.norm(w, axis=0)

    Y = 0.5 * A @ unit(rng.normal(size=(4, n_t))) + 0.5 * B @ unit(rng.normal(size=(4, n_t)))
    Y += rng.normal(size=(n, n_t))
    Y[:, N_NULL:] += effect * A @ unit(rng.normal(size=(4, N_PLANTED)))
    return A, B, Y


CONFIGS = [
    ("rows", {"alternative": "two-sided"}),
    ("rows", {"alternative": "two-sided", "fold_spread": False}),
    ("rows", {"alternative": "greater"}),
    ("folds", {"alternative": "two-sided"}),
    ("folds", {"alternative": "greater"}),
]


def run(effect: float) -> None:
    fp = {i: [] for i in range(len(CONFIGS))}
    power = {i: [] for i in range(len(CONFIGS))}
    # false discoveries among the "A wins" calls (the quantity BH controls at q): null targets called winners
    false_calls = {i: 0 for i in range(len(CONFIGS))}
    calls = {i: 0 for i in range(len(CONFIGS))}
    for seed in range(N_SIM):
        A, B, Y = simulate(600, effect, seed)
        rec = Recording(Y, sampling_period=0.1)
        rows_results = cross_validate_models({"a": A, "b": B}, rec, backend="numpy")
        A12, B12, Y12 = simulate(720, effect, seed)
        rec12 = Recording(Y12, 0.1, np.repeat([f"run-{i:02d}" for i in range(12)], 60))
        fold_results = {k: cross_validate(X, rec12, backend="numpy") for k, X in (("a", A12), ("b", B12))}
        for i, (mode, options) in enumerate(CONFIGS):
            if mode == "rows":
                table = compare_models(rows_results, rec, [("a", "b")], n_bootstraps=1000, seed=seed, **options)
            else:
                table = compare_models(fold_results, rec12, [("a", "b")], resample="folds", **options)
            fp[i].append(float((table["p"].iloc[:N_NULL] < 0.05).mean()))
            won = ((table["p_fdr"] < 0.05) & (table["difference"] > 0)).to_numpy()
            power[i].append(float(won[N_NULL:].mean()))
            false_calls[i] += int(won[:N_NULL].sum())
            calls[i] += int(won.sum())
    for i, (mode, options) in enumerate(CONFIGS):
        k = int(round(np.mean(fp[i]) * N_NULL * N_SIM))
        ci = binomtest(k, N_NULL * N_SIM).proportion_ci(0.95)
        print(f"effect {effect}, resample={mode!r} {options}: null FPR {np.mean(fp[i]):.3f} over "
              f"{N_NULL * N_SIM} targets (95% CI {ci.low:.3f}-{ci.high:.3f}; per simulation "
              f"{np.round(fp[i], 3).tolist()}); power at FDR 5% {np.mean(power[i]):.3f} "
              f"over {N_PLANTED * N_SIM} planted targets; false discovery proportion among 'A wins' "
              f"{false_calls[i] / max(calls[i], 1):.3f} ({false_calls[i]} of {calls[i]}; BH level 0.05)")


def timing() -> None:
    """compare_models against its baseline, the cross-validation of the same models, in one run."""
    import time

    rng = np.random.default_rng(0)
    n, n_targets = 1000, 1000 if FAST else 5000
    designs = {name: rng.normal(size=(n, 10)) for name in ("a", "b", "c")}
    Y = designs["a"] @ rng.normal(size=(10, n_targets)) + 3 * rng.normal(size=(n, n_targets))
    rec = Recording(Y.astype(np.float32), 0.1)
    t0 = time.perf_counter()
    results = cross_validate_models(designs, rec, backend="numpy")
    t1 = time.perf_counter()
    compare_models(results, rec, criteria={"x": {"winner": "a", "against": ["b", "c"]}}, n_bootstraps=1000)
    t2 = time.perf_counter()
    print(f"timing, 3 models x {n_targets} targets x {n} samples, 1000 bootstraps: cross-validation {t1 - t0:.1f} s, "
          f"comparison {t2 - t1:.1f} s (ratio {(t2 - t1) / (t1 - t0):.2f})")


def main() -> int:
    timing()
    for effect in (0.6, 1.2):
        run(effect)
    return 0


if __name__ == "__main__":
    sys.exit(main())
