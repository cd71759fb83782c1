"""``brainalign encode``: cross-validated encoding of every layer, written to a results folder.

Examples
--------
Saved features + ROI time courses (one text file per run)::

    brainalign encode --features features/3f2a... --recording s18-timecourses.txt --tr 2 \\
        --method hrf --baseline s18-rate.txt s18-sndpwr.txt -o results/alice-s18

Designs already on the recording's grid (one .npy/.tsv per layer, rows = samples)::

    brainalign encode --designs layer.0.npy layer.1.npy --recording bold.nii.gz --mask mask.nii.gz -o out
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ._registry import list_estimators
from ._sklearn_api import alphas_from_text
from ._sweep import sweep_layers

logger = logging.getLogger("brainalign.encoding")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("inputs")
    src.add_argument("--features", help="saved FeatureSet directory (brainalign extract output entry)")
    src.add_argument("--designs", nargs="+", default=None,
                     help="design files on the recording's grid, one per layer (.npy, .tsv, .csv, .txt); "
                          "the layer name is the file stem")
    src.add_argument("--recording", nargs="+", required=True,
                     help="ROI/time-course text or .npy files, or NIfTI images; one per run")
    src.add_argument("--tr", type=float, default=None,
                     help="sampling period in seconds (required for text files; read from NIfTI headers)")
    src.add_argument("--mask", default=None, help="voxel mask for NIfTI recordings (default: computed)")
    src.add_argument("--runs", nargs="+", default=None, help="run labels (default run-1, run-2, ...)")
    src.add_argument("--subject", default="sub-01")
    src.add_argument("--skip-rows", type=int, default=0, help="leading rows dropped from each text run")
    src.add_argument("--clean", choices=["none", "detrend", "zscore"], default="detrend",
                     help="per-run cleaning of the recording (default: detrend + z-score)")
    src.add_argument("--baseline", nargs="+", default=None,
                     help="baseline regressor files on the recording's grid (e.g. word rate, sound power)")
    design = parser.add_argument_group("alignment (with --features)")
    design.add_argument("--method", default="hrf", help="hrf, lanczos, fir or lagged (default: hrf)")
    design.add_argument("--layers", nargs="+", default=None, help="subset of layers (default: all)")
    cv = parser.add_argument_group("cross-validation")
    cv.add_argument("--cv", default="auto", help="'auto' (leave-one-run-out or 5 blocks) or a number of blocks")
    cv.add_argument("--gap-s", type=float, default=None, help="seconds left out around test blocks (default: HRF/TRF)")
    cv.add_argument("--inner-cv", type=int, default=None, help="inner folds choosing the penalties (default 5)")
    cv.add_argument("--alphas", default=None,
                    help="'low,high,n' exponents of a log-spaced grid, written --alphas=-1,7,17 (the default)")
    cv.add_argument("--estimator", choices=list_estimators(), default=None,
                    help="how a layer is combined with --baseline (any registered estimator): pcr (the default with "
                         "a baseline: the baseline "
                         "first, then a few of the layer's principal components on its residual, the number "
                         "chosen by inner CV, 0 included, and the layer used only as far as it clearly helps), "
                         "stacked (the whole layer's ridge on the baseline's residual), banded (own penalties) "
                         "or ridge (one penalty over stacked columns)")
    cv.add_argument("--pca", type=int, default=None, help="principal components fitted within training folds")
    cv.add_argument("--shuffle", action="store_true", help="shuffled K-fold (inflated scores; for demonstrations)")
    cv.add_argument("--permutations", type=int, default=0, help="circular-shift permutations for p-values")
    cv.add_argument("--seed", type=int, default=0)
    cv.add_argument("--backend", default="auto", help="auto, numpy, torch or torch_cuda")
    cv.add_argument("--no-autocorrelation", action="store_true", help="skip the time-only baseline")
    parser.add_argument("--model", default="", help="model label for the results table")
    parser.add_argument("-o", "--output", required=True, help="results folder (resumes per layer)")


def parse_alphas(text: str | None):
    """``--alphas 'low,high,n'`` as a grid (see :func:`brainalign.encoding.alphas_from_text`)."""
    return alphas_from_text(text)


def build_designs(args, recording) -> dict:
    from ..core import BrainalignInputError
    from ..recordings import design_from_file, file_stem

    if (args.features is None) == (args.designs is None):
        raise BrainalignInputError("Give exactly one of --features (a saved FeatureSet) or --designs (files).")
    if args.designs is not None:
        return {file_stem(p): design_from_file(p, recording) for p in args.designs}
    from ..alignment import make_designs
    from ..features import load_features

    features = load_features(args.features)
    kwargs = {"layers": args.layers} if args.layers else {}
    return make_designs(features, recording, args.method, **kwargs)


def cv_options(args) -> dict:
    """The command's cross-validation flags as ``sweep_layers`` options (estimator options only when set,
    so an estimator without e.g. a backend option is not handed one)."""
    cv = args.cv if args.cv == "auto" else int(args.cv)
    out = dict(cv=cv, gap_s=args.gap_s, inner_cv=args.inner_cv, alphas=parse_alphas(args.alphas),
               shuffle=args.shuffle, n_permutations=args.permutations, seed=args.seed,
               backend=None if args.backend == "auto" else args.backend, model=args.model,
               estimator=args.estimator, pca=args.pca)
    return {k: v for k, v in out.items() if v is not None}


def main(args: argparse.Namespace) -> int:
    from ..core import BrainalignInputError
    from ..recordings import baseline_from_files, load_recording

    try:
        recording = load_recording(args.recording, tr=args.tr, mask=args.mask, runs=args.runs,
                                   subject=args.subject, skip_rows=args.skip_rows, clean=args.clean)
        designs = build_designs(args, recording)
        baseline = baseline_from_files(args.baseline, recording)
        output = Path(args.output)
        sweep = sweep_layers(designs, recording, baseline=baseline, autocorrelation=not args.no_autocorrelation,
                             results_dir=output, **cv_options(args))
        sweep.write_maps(recording, output)
    except (BrainalignInputError, FileNotFoundError) as err:
        logger.error("%s", err)
        return 2
    headline = sweep.headline()
    logger.info("Wrote %s: %s", output, ", ".join(f"{k}={v:.3g}" for k, v in headline.items()))
    return 0
