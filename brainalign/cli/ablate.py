"""``brainalign ablate``: ablate localized units and measure the deficit vs random units."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import add_output

logger = logging.getLogger("brainalign.localize")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="the model the mask was made on (hub id, local folder or bundled:all-MiniLM-L6-v2)")
    parser.add_argument("--results", required=True, type=Path,
                        help="results folder of `brainalign localize` (reads <results>/mask)")
    add_output(parser, type=Path, help="results folder to write (default: --results)")
    parser.add_argument("--texts", type=Path, default=None,
                        help="held-out text, one passage per line (default: built-in generated sentences)")
    parser.add_argument("--blimp", type=Path, nargs="*", default=None,
                        help="BLiMP-format JSONL file(s) of minimal pairs (default: built-in pairs)")
    parser.add_argument("--limit-pairs", type=int, default=None, help="at most this many pairs per file")
    parser.add_argument("--n-random-seeds", type=int, default=5)
    parser.add_argument("--mode", default="zero", choices=["zero", "mean"])
    parser.add_argument("--match", default="per_layer", choices=["per_layer", "total"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-figures", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..core import BrainalignInputError
    from ..localize import (UnitMask, builtin_heldout_texts, builtin_minimal_pairs, load_blimp_jsonl,
                            load_language_model, measure_deficit, model_fingerprint, save_localize_results)

    mask = UnitMask.load(args.results / "mask")
    model, tokenizer = load_language_model(args.model, device=args.device)
    if model_fingerprint(model) != mask.params.get("model_fingerprint"):
        logger.warning("The mask was made on a model with another fingerprint (%s); unit counts still match "
                       "or ablation would fail.", mask.params.get("model"))
    if args.texts is not None:
        if not args.texts.is_file():
            raise BrainalignInputError(f"Text file {args.texts} does not exist.")
        texts = [line.strip() for line in args.texts.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        texts = builtin_heldout_texts()
    if args.blimp:
        pairs = [p for path in args.blimp for p in load_blimp_jsonl(path, limit=args.limit_pairs)]
    else:
        pairs = builtin_minimal_pairs()
    report = measure_deficit(model, mask, texts, pairs, tokenizer=tokenizer, n_random_seeds=args.n_random_seeds,
                             mode=args.mode, match=args.match, batch_size=args.batch_size,
                             max_tokens=args.max_tokens, seed=args.seed)
    config = {"ablate": {"model": str(args.model), "texts": str(args.texts or "builtin"),
                         "blimp": [str(p) for p in args.blimp] if args.blimp else "builtin"}}
    save_localize_results(args.output or args.results, mask, deficit=report, config=config,
                          figures=not args.no_figures)
    logger.info("%r", report)
    print(report.describe())
    return 0
