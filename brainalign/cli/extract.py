"""``brainalign extract text|video|audio``: layerwise model features of a transcript, a movie or a soundtrack.

Examples::

    brainalign extract text story.TextGrid --model bundled:all-MiniLM-L6-v2 --shift=-20
    brainalign extract video movie.mp4 --model google/vit-base-patch16-224 --sample-fps 2
    brainalign extract audio movie.mp4 --model facebook/wav2vec2-base

Each extraction is stored under ``<output>/<key>/`` (a content-addressed
feature cache) and the command prints that folder.  The options are those of
``extract_text_features``, ``extract_video_features`` and
``extract_audio_features``, under the same names.
"""

from __future__ import annotations

import argparse
import logging

from . import add_output, shared_flags
from ._options import add_options, options_from_args

logger = logging.getLogger("brainalign.features")
DESCRIPTION = __doc__
#: the run label of a stimulus without one, as ``brainalign encode`` labels recording runs
DEFAULT_RUN = "run-1"


def _models():
    from ..features import FEATURE_OPTIONS

    return FEATURE_OPTIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="modality", metavar="MODALITY", required=True)
    inputs = {"text": "TextGrid, word table (.tsv/.csv: token, onset[, offset][, run]) or story (.txt)",
              "video": "movie file (.mp4, .mkv, ...): image-model features of its frames",
              "audio": "movie or audio file: speech-model features of its soundtrack"}
    for modality, model in _models().items():
        p = sub.add_parser(modality, help=inputs[modality].split(":")[0], parents=[shared_flags()],
                           description=f"{modality} features: {inputs[modality]}")
        p.add_argument("input", metavar="STIMULUS" if modality == "text" else "MEDIA", help=inputs[modality])
        p.add_argument("--model", required=True,
                       help="hub id (in the local cache), local model folder, or bundled:all-MiniLM-L6-v2")
        add_output(p, default="features", help="feature store folder; each extraction goes to <output>/<key>/")
        p.add_argument("--run", default=DEFAULT_RUN,
                       help="run label of the stimulus (default: %(default)s, as brainalign encode labels runs)")
        if modality == "text":
            p.add_argument("--shift", type=float, default=0.0, metavar="SECONDS",
                           help="seconds added to every word time, to put the words on the recording's clock "
                                "(Alice TextGrid: -20) (default: 0)")
            p.add_argument("--words-per-second", type=float, default=None,
                           help=".txt stories: evenly spaced placeholder timing (default: a natural reading pace)")
        if modality == "video":
            p.add_argument("--times", default=None,
                           help="text file of sample times in seconds, one per line (instead of --sample-fps)")
        add_options(p, model, title=f"{modality} feature options")


def _text(args, options):
    from ..features import extract_text_features, read_stimulus_file

    timeline = read_stimulus_file(args.input, words_per_second=args.words_per_second, run=args.run)
    if args.shift:
        timeline = timeline.shift(args.shift)
    return extract_text_features(timeline, args.model, cache_dir=args.output, **options), "words"


def _video(args, options):
    import numpy as np

    from ..core import BrainalignInputError
    from ..features import extract_video_features

    times = None
    if args.times is not None:
        try:
            times = np.loadtxt(args.times, dtype=float, ndmin=1)
        except (OSError, ValueError) as err:
            raise BrainalignInputError(f"Could not read sample times from {args.times}: {err}") from err
    features = extract_video_features(args.input, args.model, times=times, run=args.run, cache_dir=args.output,
                                      **options)
    return features, "frames"


def _audio(args, options):
    from ..features import extract_audio_features

    if "chunk_seconds" in options:  # the default overlap would not fit in a short chunk
        options.setdefault("overlap_seconds", min(5.0, options["chunk_seconds"] / 2))
    features = extract_audio_features(args.input, None, args.model, run=args.run, cache_dir=args.output,
                                      **options)
    return features, "audio frames"


def run(args: argparse.Namespace) -> int:
    model = _models()[args.modality]
    options = options_from_args(args, model).model_dump(exclude_unset=True)
    features, what = {"text": _text, "video": _video, "audio": _audio}[args.modality](args, options)
    key = features.metadata["store_key"]
    logger.info("%d %s x %d layers stored in %s/%s (load with brainalign.features.load_features).",
                features.n_events, what, len(features.layer_names), args.output, key)
    print(f"{args.output}/{key}")
    return 0
