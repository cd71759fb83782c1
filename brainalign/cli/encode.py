"""``brainalign encode``: cross-validated encoding of every layer, written to a results folder.

Examples
--------
Saved features + ROI time courses (one text file per run)::

    brainalign encode --features features/3f2a... --files s18-timecourses.txt --tr 2 \\
        --method hrf --baseline s18-rate.txt s18-sndpwr.txt -o results/alice-s18

Designs already on the recording's grid (one .npy/.tsv per layer, rows = samples)::

    brainalign encode --designs layer.0.npy layer.1.npy --files bold.nii.gz --mask mask.nii.gz -o out

The recording, alignment and encoding flags are generated from the option
models a study's ``[recording]``, ``[alignment]`` and ``[encoding]`` tables
use, under the same names.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import add_output
from ._options import add_options, given, options_from_args

logger = logging.getLogger("brainalign.encoding")
DESCRIPTION = __doc__


def _recording_model():
    from ..recordings import RecordingFiles

    return RecordingFiles


def _alignment_fields() -> dict:
    """Every alignment option of every method (``--method`` picks the method; others are refused)."""
    from ..alignment import ALIGNMENT_OPTIONS

    fields = {}
    for model in ALIGNMENT_OPTIONS.values():
        for name in model.model_fields:
            fields.setdefault(name, model)
    return fields


def _encoding_fields() -> dict:
    """Every encoding option: the shared ones and each registered estimator's (``--estimator`` picks one)."""
    from ..encoding import encoding_option_models

    fields = {}
    for model in encoding_option_models().values():
        for name in model.model_fields:
            fields.setdefault(name, model)
    return fields


def _clashes() -> set:
    """Encoding options named like an option of another table (a deep encoder's and Lanczos' ``window``)."""
    return set(_encoding_fields()) & (set(_alignment_fields()) | set(_recording_model().model_fields))


def _add_union(group, fields: dict, owners_of, tag: str, prefixed=()) -> None:
    """One flag per option of a tagged union; an option of some members only says which."""
    for name, model in fields.items():
        if name == tag:
            continue
        owners = owners_of(name)
        add_options(group, model, only={name}, show_defaults=owners is None,
                    prefix="encoding" if name in prefixed else "")
        if owners is not None:
            action = group._group_actions[-1]
            action.help = (action.help or "") + f" [{', '.join(owners)}]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..alignment import ALIGNMENT_OPTIONS

    src = parser.add_argument_group("inputs")
    src.add_argument("--features", help="saved FeatureSet folder (what brainalign extract prints)")
    src.add_argument("--designs", nargs="+", default=None,
                     help="design files on the recording's grid, one per layer (.npy, .tsv, .csv, .txt); "
                          "the layer name is the file stem")
    src.add_argument("--baseline", nargs="+", default=None,
                     help="baseline regressor files on the recording's grid (e.g. word rate, sound power)")
    src.add_argument("--layers", nargs="+", default=None, help="subset of layers (default: all)")
    src.add_argument("--shift", type=float, default=0.0, metavar="SECONDS",
                     help="seconds added to the features' event times before alignment (default: 0)")
    add_options(parser, _recording_model(), aliases={"files": ["--recording"], "runs": ["--run"]},
                required={"files"}, title="recording (as a study's [recording])")
    group = parser.add_argument_group("alignment (with --features; as a study's [alignment])")
    group.add_argument("--method", default="hrf", choices=[m for m in ALIGNMENT_OPTIONS if m != "auto"],
                       help="how features become a design (default: %(default)s)")

    def method_owners(name):
        owners = [m for m, o in ALIGNMENT_OPTIONS.items() if name in o.model_fields]
        return None if len(owners) == len(ALIGNMENT_OPTIONS) - 1 else owners

    _add_union(group, _alignment_fields(), method_owners, "method")
    from ..encoding import encoding_option_models, list_estimators

    models = encoding_option_models()
    group = parser.add_argument_group("cross-validation and encoding (as a study's [encoding])")
    group.add_argument("--estimator", choices=list_estimators(), default=None,
                       help=models[list_estimators()[0]].model_fields["estimator"].description)

    def estimator_owners(name):
        owners = [n for n, m in models.items() if name in m.model_fields]
        return None if len(owners) == len(models) else owners

    _add_union(group, _encoding_fields(), estimator_owners, "estimator", prefixed=_clashes())
    parser.add_argument("--model", dest="model_label", default="", help="model label for the results table")
    add_output(parser, required=True, help="results folder (resumes per layer)")


def run(args: argparse.Namespace) -> int:
    from ..alignment import alignment_options, make_designs
    from ..core import BrainalignInputError, FeatureSet
    from ..encoding import alphas_from_text, encoding_options, sweep_layers
    from ..features import load_features
    from ..recordings import baseline_from_files, design_from_file, file_stem, load_recording

    rec = options_from_args(args, _recording_model())
    recording = load_recording(rec.files, tr=rec.tr, mask=rec.mask, runs=rec.runs, subject=rec.subject,
                               skip_rows=rec.skip_rows, clean=rec.clean)
    if (args.features is None) == (args.designs is None):
        raise BrainalignInputError("Give exactly one of --features (a saved FeatureSet) or --designs (files).")
    if args.designs is not None:
        designs = {file_stem(p): design_from_file(p, recording) for p in args.designs}
    else:
        align = alignment_options({"method": args.method, **given(args, _alignment_fields())},
                                  where="alignment flags")
        features = load_features(args.features)
        if args.shift:
            features = FeatureSet(features.layers, features.timeline.shift(args.shift), features.metadata)
        kwargs = {k: v for k, v in align.model_dump(exclude={"method"}).items()}
        if args.layers:
            kwargs["layers"] = args.layers
        designs = make_designs(features, recording, args.method, **kwargs)
    baseline = baseline_from_files(args.baseline, recording)
    clashes = _clashes()
    chosen = {k: v for k, v in given(args, set(_encoding_fields()) - clashes).items()
              if not (k == "estimator" and v is None)}
    chosen.update(given(args, clashes, prefix="encoding"))
    parsed = encoding_options(chosen, where="encoding flags")
    enc = {k: getattr(parsed, k) for k in chosen}  # only what was given: defaults stay sweep_layers'
    if isinstance(enc.get("alphas"), str):
        enc["alphas"] = alphas_from_text(enc["alphas"])
    autocorrelation = enc.pop("autocorrelation", True)
    output = Path(args.output)
    sweep = sweep_layers(designs, recording, baseline=baseline, autocorrelation=autocorrelation,
                         results_dir=output, model=args.model_label, **enc)
    sweep.write_maps(recording, output)
    headline = sweep.headline()
    logger.info("Wrote %s: %s", output, ", ".join(f"{k}={v:.3g}" for k, v in headline.items()))
    return 0

