"""``brainalign tag``: frequency tagging of a model's units on isochronous sentence streams (HFTP)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import add_output
from ._options import add_options, options_from_args

logger = logging.getLogger("brainalign.localize")

DESCRIPTION = """Frequency-tag the units of a language model (the model half of HFTP, An et al. 2025).

Four-word sentences ([Adj N][V N]) are presented one word per step, so sentences
recur at 1/4 and phrases at 1/2 of the word rate; a unit tags a level when its
amplitude at that rate exceeds the permutation null and its response to the
within-sentence-shuffled control by z > --z-threshold.  Writes, per unit type,
tables/tagging_units.tsv (every unit), tables/tagging_summary.tsv and one UnitMask
per label (masks/sentence, masks/phrase, masks/shared) that `brainalign ablate`
and the unit-brain alignment read.  --random-control also tags the random-init
twin of the same architecture (under random-init/) and prints both counts.

  brainalign tag --model gpt2 -o results/gpt2-tagging --random-control
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..localize import TaggingOptions

    parser.add_argument("--model", required=True,
                        help="hub id (in the local cache), local model folder, or bundled:all-MiniLM-L6-v2")
    add_output(parser, required=True, type=Path, help="results folder to write")
    streams = parser.add_argument_group("streams")
    streams.add_argument("--corpus", type=Path, default=None,
                         help="sentences, one per line, all with the same number of words "
                              "(default: the bundled corpus of four-word sentences)")
    streams.add_argument("--n-streams", type=int, default=4, help="independent shuffled streams (default: 4)")
    streams.add_argument("--sentences-per-stream", type=int, default=None,
                         help="sentences per stream (default: every sentence once)")
    streams.add_argument("--word-rate", type=float, default=4.0, help="words per second (default: 4.0)")
    streams.add_argument("--stream-seed", type=int, default=0, help="seed of the sentence orders (default: 0)")
    add_options(parser, TaggingOptions, title="tagging")
    parser.add_argument("--random-control", action="store_true",
                        help="also tag the random-init twin of the same architecture and print both counts")
    parser.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default: auto)")


def _counts(tags) -> str:
    """``mlp: sentence 3, phrase 5, shared 0 of 128 units`` for every unit type."""
    parts = []
    for unit_type, t in tags.items():
        labels = t.labels()
        n_units = sum(m.size for m in next(iter(labels.values())).values())
        counts = ", ".join(f"{label} {sum(int(m.sum()) for m in masks.values())}" for label, masks in labels.items())
        parts.append(f"{unit_type}: {counts} of {n_units} units")
    return "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..core import BrainalignInputError, save_json
    from ..features import TextModel, load_text_model
    from ..localize import TaggingOptions, tag_units
    from ..stimuli import isochronous_streams, load_isochronous_corpus

    options = options_from_args(args, TaggingOptions)
    if args.corpus is not None and not args.corpus.is_file():
        raise BrainalignInputError(f"--corpus {args.corpus} does not exist; give a text file with one sentence a line.")
    sentences = load_isochronous_corpus(args.corpus) if args.corpus is not None else None
    streams = isochronous_streams(sentences, n_streams=args.n_streams, sentences_per_stream=args.sentences_per_stream,
                                  word_rate=args.word_rate, seed=args.stream_seed)
    model = load_text_model(args.model, device=args.device)
    kwargs = options.model_dump()
    tags = tag_units(model, streams, **kwargs)
    out = Path(args.output)
    for unit_type, t in tags.items():
        t.save(out / unit_type)
    lines = [f"{args.model}: {_counts(tags)}"]
    summary = {"command": "tag", "model": str(args.model), "corpus": str(args.corpus or "bundled"),
               "streams": dict(streams.params), "options": kwargs, "counts": {"model": _counts(tags)}}
    if args.random_control:
        # the same architecture and tokenizer with fresh random weights: what the rule tags by chance
        torch.manual_seed(options.seed)
        twin = type(model.model)(model.model.config).to(model.device).eval()
        random_model = TextModel(twin, model.tokenizer, f"{model.model_id} (random init)")
        random_tags = tag_units(random_model, streams, **kwargs)
        for unit_type, t in random_tags.items():
            t.save(out / "random-init" / unit_type)
        lines.append(f"random-init twin: {_counts(random_tags)}")
        summary["counts"]["random_init"] = _counts(random_tags)
    save_json(out / "tag.json", summary)
    logger.info("Tagging results written to %s", out)
    print("\n".join(lines))
    return 0
