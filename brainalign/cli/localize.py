"""``brainalign localize``: find language-selective (or MD / ToM) units of a model."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import add_output

logger = logging.getLogger("brainalign.localize")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="hub id (in the local cache), local model folder, or bundled:all-MiniLM-L6-v2")
    add_output(parser, required=True, help="results folder to write", type=Path)
    parser.add_argument(
        "--localizer", default="language", choices=["language", "multiple_demand", "theory_of_mind"],
        help="which contrast: sentences > non-words, hard > easy arithmetic, false belief > false photo",
    )
    parser.add_argument("--stimuli", default="builtin",
                        help="language: 'builtin' (generated) or a folder of Fedorenko 2010 CSV files")
    parser.add_argument("--belief-file", type=Path, help="theory of mind: false-belief stories (blank-line separated)")
    parser.add_argument("--photo-file", type=Path, help="theory of mind: false-photo stories (blank-line separated)")
    parser.add_argument("--n", type=int, default=240, help="generated stimuli per condition (default 240)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--fraction", type=float, default=0.01, help="fraction of units to select (default 0.01)")
    parser.add_argument("--scope", default="all", choices=["all", "per_layer"])
    parser.add_argument("--unit-type", default="residual", choices=["residual", "mlp", "attn_heads"])
    parser.add_argument("--pooling", default="last", choices=["last", "mean"])
    parser.add_argument("--token-budget", default="auto",
                        help="content tokens kept per stimulus: an int, 'auto' (default) or 'none'")
    parser.add_argument("--absolute", action="store_true", help="t-test absolute activations instead of signed")
    parser.add_argument("--fdr-alpha", type=float, default=None, help="also require BH-FDR q <= this")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cache-dir", type=Path, default=None, help="activation / mask cache")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-figures", action="store_true")


def _budget(text: str):
    from ..core import BrainalignInputError

    if text.lower() == "none":
        return None
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise BrainalignInputError(f"--token-budget must be an integer, 'auto' or 'none', got {text!r}.") from None


def run(args: argparse.Namespace) -> int:
    from ..localize import load_language_model, localize_stimuli, localize_units, save_localize_results

    stimuli = localize_stimuli(args.localizer, args.stimuli, seed=args.seed, n=args.n,
                               belief_file=args.belief_file, photo_file=args.photo_file)
    model, tokenizer = load_language_model(args.model, device=args.device)
    mask = localize_units(
        model, stimuli, tokenizer=tokenizer, fraction=args.fraction, scope=args.scope, unit_type=args.unit_type,
        pooling=args.pooling, token_budget=_budget(args.token_budget), signed=not args.absolute,
        fdr_alpha=args.fdr_alpha, batch_size=args.batch_size, cache_dir=args.cache_dir,
    )
    config = {"command": "localize", "model": str(args.model), "localizer": args.localizer,
              "stimuli": str(args.stimuli), "seed": args.seed, "n": args.n}
    hashes = {k: v for k, v in stimuli.metadata.get("sha256", {}).items()}
    save_localize_results(args.output, mask, config=config, data_hashes=hashes, figures=not args.no_figures)
    logger.info("Selected %d of %d units; per layer %s", mask.n_selected, mask.n_units, mask.n_selected_per_layer)
    print(args.output)
    return 0
