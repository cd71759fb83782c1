"""``brainalign extract``: layerwise model features of a transcript, a movie's frames or a soundtrack.

Text (a language model on a word timeline)::

    brainalign extract MODEL STIMULUS [options]

Movie frames (an image model, frames sampled on a time grid) and soundtracks
(a speech model on the audio of a movie or audio file)::

    brainalign extract --video movie.mp4 --model MODEL --sample-fps 2
    brainalign extract --audio movie.mp4 --model MODEL
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from ..core import BrainalignInputError

logger = logging.getLogger("brainalign.features")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_pos", nargs="?", metavar="model", default=None,
                        help="Hugging Face model id or local model directory (or use --model)")
    parser.add_argument("stimulus", nargs="?", default=None,
                        help="TextGrid, word table (.tsv/.csv: token, onset[, offset][, run]) or story (.txt)")
    parser.add_argument("--model", dest="model_opt", default=None,
                        help="model id or directory (a language, image or speech model for text, --video, --audio)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", default=None,
                        help="movie file (.mp4, .mkv, ...): image-model features of its frames")
    source.add_argument("--audio", default=None,
                        help="movie or audio file: speech-model features of its soundtrack")
    parser.add_argument("-o", "--output", default="features",
                        help="feature store directory; each extraction goes to <output>/<key>/ (default: features)")
    parser.add_argument("--layers", nargs="+", default=None,
                        help="layer names (embeddings, layer.0, ..., mlp.3, attn.3) or indices (text); default: all")
    parser.add_argument("--units", nargs="+", choices=["mlp", "attn_heads"], default=None,
                        help="text: also capture MLP neurons / attention head outputs of the selected blocks")
    parser.add_argument("--context", type=int, default=512,
                        help="text: minimum preceding tokens each word sees (default: 512)")
    parser.add_argument("--stride", type=int, default=None, help="text: tokens computed per window (default: context)")
    parser.add_argument("--pooling", default=None,
                        help="text: last, mean or first (default last); video: auto, cls, mean or spatial_mean "
                             "(default auto)")
    parser.add_argument("--future-context", action="store_true",
                        help="text, bidirectional models: share windows (faster) although words see following tokens")
    parser.add_argument("--sample-fps", type=float, default=None,
                        help="video: sample frames at this rate (default: every frame at its own timestamp)")
    parser.add_argument("--times", default=None,
                        help="video: text file of sample times in seconds, one per line (instead of --sample-fps)")
    parser.add_argument("--chunk-frames", type=int, default=256,
                        help="video: sample times per stored, resumable chunk (default: 256)")
    parser.add_argument("--chunk-seconds", type=float, default=30.0,
                        help="audio: seconds of audio per forward pass (default: 30)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--dtype", default="auto",
                        help="float32, bfloat16 or float16 (default: bfloat16 on CUDA for text, the model's "
                             "own dtype otherwise)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="windows (text, default 8) or frames (video, default 16) per forward pass")
    parser.add_argument("--storage-dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--revision", default=None, help="model revision on the hub")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--words-per-second", type=float, default=None,
                        help="text: evenly spaced placeholder timing for .txt stories "
                             "(default: a natural reading pace)")


def _model(args) -> str:
    if args.model_opt is not None and args.model_pos is not None:
        raise BrainalignInputError("Give the model once: with --model, or as the first argument.")
    model = args.model_opt or args.model_pos
    if model is None:
        raise BrainalignInputError("No model given: pass --model MODEL (or MODEL as the first argument).")
    return model


def _dtype(args):
    return None if args.dtype == "auto" else args.dtype


def _video(args):
    from ._video import extract_video_features

    times = None
    if args.times is not None:
        try:
            times = np.loadtxt(args.times, dtype=float, ndmin=1)
        except (OSError, ValueError) as err:
            raise BrainalignInputError(f"Could not read sample times from {args.times}: {err}") from err
    return extract_video_features(
        args.video, _model(args), times=times, sample_fps=args.sample_fps, layers=args.layers,
        pooling=args.pooling or "auto", batch_size=args.batch_size or 16, chunk_frames=args.chunk_frames,
        device=args.device, dtype=_dtype(args), revision=args.revision, cache_dir=args.output,
        storage_dtype=args.storage_dtype,
    ), "frames"


def _audio(args):
    from ._audio import extract_audio_features

    return extract_audio_features(
        args.audio, None, _model(args), layers=args.layers, chunk_seconds=args.chunk_seconds,
        overlap_seconds=min(5.0, args.chunk_seconds / 2), device=args.device, dtype=_dtype(args),
        revision=args.revision, cache_dir=args.output,
    ), "audio frames"


def _text(args):
    from ._stimulus import read_stimulus_file
    from ._text import extract_text_features

    if args.stimulus is None and args.model_opt is not None and args.model_pos is not None:
        args.stimulus, args.model_pos = args.model_pos, None  # `extract --model M story.txt`
    if args.stimulus is None:
        raise BrainalignInputError("No stimulus given: pass a transcript file, --video MOVIE or --audio FILE.")
    layers = None
    if args.layers is not None:
        layers = [int(x) if x.lstrip("-").isdigit() else x for x in args.layers]
    timeline = read_stimulus_file(args.stimulus, words_per_second=args.words_per_second)
    return extract_text_features(
        timeline, _model(args), layers=layers, units=args.units, context_tokens=args.context,
        stride=args.stride, pooling=args.pooling or "last", future_context=args.future_context,
        batch_size=args.batch_size or 8, device=args.device, dtype=args.dtype, revision=args.revision,
        trust_remote_code=args.trust_remote_code, cache_dir=args.output, storage_dtype=args.storage_dtype,
    ), "words"


def main(args: argparse.Namespace) -> int:
    try:
        if args.video is not None:
            features, what = _video(args)
        elif args.audio is not None:
            features, what = _audio(args)
        else:
            features, what = _text(args)
    except BrainalignInputError as exc:
        logger.error("%s", exc)
        return 2
    key = features.metadata["store_key"]
    logger.info("%d %s x %d layers stored in %s/%s (load with brainalign.features.load_features).",
                features.n_events, what, len(features.layer_names), args.output, key)
    print(f"{args.output}/{key}")
    return 0
