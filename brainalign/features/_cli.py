"""``brainalign extract``: layerwise features of a language model for a stimulus file."""

from __future__ import annotations

import argparse
import logging

from ..core import BrainalignInputError

logger = logging.getLogger("brainalign.features")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="Hugging Face model id or local model directory")
    parser.add_argument("stimulus", help="TextGrid, word table (.tsv/.csv: token, onset[, offset][, run]) or story (.txt)")
    parser.add_argument("-o", "--output", default="features",
                        help="feature store directory; each extraction goes to <output>/<key>/ (default: features)")
    parser.add_argument("--layers", nargs="+", default=None,
                        help="layer names (embeddings, layer.0, ..., mlp.3, attn.3) or indices; default: all")
    parser.add_argument("--units", nargs="+", choices=["mlp", "attn_heads"], default=None,
                        help="also capture MLP neurons / attention head outputs of the selected blocks")
    parser.add_argument("--context", type=int, default=512,
                        help="minimum preceding tokens each word sees (default: 512)")
    parser.add_argument("--stride", type=int, default=None, help="tokens computed per window (default: context)")
    parser.add_argument("--pooling", choices=["last", "mean", "first"], default="last",
                        help="how to pool a word's tokens (default: last)")
    parser.add_argument("--future-context", action="store_true",
                        help="bidirectional models: share windows (faster) although words see following tokens")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--dtype", default="auto",
                        help="float32, bfloat16 or float16 (default: bfloat16 on CUDA, float32 on CPU)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default: 8)")
    parser.add_argument("--storage-dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--revision", default=None, help="model revision on the hub")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--words-per-second", type=float, default=None,
                        help="evenly spaced placeholder timing for .txt stories "
                             "(default: a natural reading pace)")


def main(args: argparse.Namespace) -> int:
    from ._stimulus import read_stimulus_file
    from ._text import extract_text_features

    layers = None
    if args.layers is not None:
        layers = [int(x) if x.lstrip("-").isdigit() else x for x in args.layers]
    try:
        timeline = read_stimulus_file(args.stimulus, words_per_second=args.words_per_second)
        features = extract_text_features(
            timeline, args.model, layers=layers, units=args.units, context_tokens=args.context,
            stride=args.stride, pooling=args.pooling, future_context=args.future_context,
            batch_size=args.batch_size, device=args.device, dtype=args.dtype, revision=args.revision,
            trust_remote_code=args.trust_remote_code, cache_dir=args.output,
            storage_dtype=args.storage_dtype,
        )
    except BrainalignInputError as exc:
        logger.error("%s", exc)
        return 2
    key = features.metadata["store_key"]
    logger.info("%d words x %d layers stored in %s/%s (load with brainalign.features.load_features).",
                features.n_events, len(features.layer_names), args.output, key)
    print(f"{args.output}/{key}")
    return 0
