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

import numpy as np

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
    cv.add_argument("--inner-cv", type=int, default=5)
    cv.add_argument("--alphas", default=None,
                    help="'low,high,n' exponents of a log-spaced grid, written --alphas=-1,7,17 (the default)")
    cv.add_argument("--estimator", choices=["pcr", "stacked", "banded", "ridge"], default=None,
                    help="how a layer is combined with --baseline: pcr (the default with a baseline: the baseline "
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
    if text is None:
        return None
    try:
        low, high, n = (float(x) for x in text.split(","))
        return np.logspace(low, high, int(n))
    except ValueError as err:
        from ..core import BrainalignInputError

        raise BrainalignInputError(f"--alphas must be 'low,high,n' (exponents of 10), got {text!r}.") from err


def read_matrix(path: str | Path) -> np.ndarray:
    """Rows = samples from .npy or delimited text (a non-numeric first row is taken as a header)."""
    from ..core import BrainalignInputError

    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"No such file: {path}")
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
    else:
        import pandas as pd

        sep = "\t" if path.suffix == ".tsv" else "," if path.suffix == ".csv" else r"\s+"
        first = path.read_text().splitlines()[0].replace(",", " ").split()
        header = 0 if any(not _is_number(tok) for tok in first) else None
        arr = pd.read_csv(path, sep=sep, header=header, engine="python").to_numpy(dtype=np.float64)
    arr = np.asarray(arr, dtype=np.float64)
    return arr[:, None] if arr.ndim == 1 else arr


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def load_recording(args):
    """Recording from ``--recording`` files (text/npy ROI time courses or NIfTI images)."""
    from ..core import BrainalignInputError

    files = [Path(p) for p in args.recording]
    is_nifti = [p.name.endswith((".nii", ".nii.gz")) for p in files]
    clean = {"none": dict(detrend=False, standardize=False),
             "detrend": dict(detrend=True, standardize="zscore_sample"),
             "zscore": dict(detrend=False, standardize="zscore_sample")}[args.clean]
    if all(is_nifti):
        from ..recordings import load_fmri

        return load_fmri([str(p) for p in files], mask_img=args.mask, tr=args.tr, runs=args.runs,
                         subject=args.subject, **clean)
    if any(is_nifti):
        raise BrainalignInputError("--recording mixes NIfTI images and text files; give one kind.")
    if args.tr is None:
        raise BrainalignInputError("--tr is required for text/.npy recordings (they carry no sampling period).")
    from ..recordings import load_roi_timecourses

    sources = [str(p) if p.suffix != ".npy" else np.load(p, allow_pickle=False) for p in files]
    return load_roi_timecourses(sources if len(sources) > 1 else sources[0], args.tr, runs=args.runs,
                                skip_rows=args.skip_rows, subject=args.subject, **clean)


def matrix_design(path: str | Path, recording, name: str | None = None):
    from ..core import BrainalignInputError, DesignMatrix

    X = read_matrix(path)
    if X.shape[0] != recording.n_samples:
        raise BrainalignInputError(
            f"{path} has {X.shape[0]} rows but the recording has {recording.n_samples} samples."
        )
    return DesignMatrix(X, recording.runs, recording.sampling_period, name or _stem(path),
                        metadata={"method": "provided", "source": str(path)})


def _stem(path) -> str:
    name = Path(path).name
    for suffix in (".npy", ".tsv", ".csv", ".txt"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def build_designs(args, recording) -> dict:
    from ..core import BrainalignInputError

    if (args.features is None) == (args.designs is None):
        raise BrainalignInputError("Give exactly one of --features (a saved FeatureSet) or --designs (files).")
    if args.designs is not None:
        return {_stem(p): matrix_design(p, recording) for p in args.designs}
    from ..alignment import make_designs
    from ..features import load_features

    features = load_features(args.features)
    kwargs = {"layers": args.layers} if args.layers else {}
    return make_designs(features, recording, args.method, **kwargs)


def baseline_design(paths, recording):
    from ..core import DesignMatrix

    if not paths:
        return None
    parts = [matrix_design(p, recording) for p in paths]
    return DesignMatrix.stack(parts, name="baseline") if len(parts) > 1 else parts[0]


def cv_options(args) -> dict:
    cv = args.cv if args.cv == "auto" else int(args.cv)
    out = dict(cv=cv, gap_s=args.gap_s, inner_cv=args.inner_cv, alphas=parse_alphas(args.alphas),
               shuffle=args.shuffle, n_permutations=args.permutations, seed=args.seed, backend=args.backend,
               model=args.model, estimator=args.estimator, pca=args.pca)
    return {k: v for k, v in out.items() if v is not None}


def write_maps(sweep, recording, output: Path) -> list[str]:
    """Best-layer maps through the recording's space: NIfTI for volumes, GIfTI per surface.

    Volume/map 0 = best layer (1-based index, 0 where no layer scores above
    zero), 1 = its score.  Nothing is written for recordings without an image space.
    """
    import nibabel as nib

    from ..core import atomic_suffixed_path

    if recording.space is None or not hasattr(recording.space, "inverse_transform"):
        return []
    images = sweep.to_image(recording)
    if not isinstance(images, tuple):
        images = (images,)
    written = []
    for i, image in enumerate(images):
        gifti = isinstance(image, nib.gifti.GiftiImage)
        suffix = ".func.gii" if gifti else ".nii.gz"
        part = f"_{i}" if len(images) > 1 else ""
        path = output / "maps" / f"best_layer{part}{suffix}"
        with atomic_suffixed_path(path, suffix) as named:  # nibabel picks the format from the name
            nib.save(image, str(named))
        written.append(str(path))
    return written


def main(args: argparse.Namespace) -> int:
    from ..core import BrainalignInputError
    from ._sweep import sweep_layers

    try:
        recording = load_recording(args)
        designs = build_designs(args, recording)
        baseline = baseline_design(args.baseline, recording)
        output = Path(args.output)
        sweep = sweep_layers(designs, recording, baseline=baseline, autocorrelation=not args.no_autocorrelation,
                             results_dir=output, **cv_options(args))
        write_maps(sweep, recording, output)
    except (BrainalignInputError, FileNotFoundError) as err:
        logger.error("%s", err)
        return 2
    headline = sweep.headline()
    logger.info("Wrote %s: %s", output, ", ".join(f"{k}={v:.3g}" for k, v in headline.items()))
    return 0
