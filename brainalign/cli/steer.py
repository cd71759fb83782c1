"""``brainalign steer``: fit brain-derived axes from files, and steer a model along a direction with controls."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import add_output

logger = logging.getLogger("brainalign.localize")

DESCRIPTION = """Steer a causal LM along a direction of its residual stream, tested against random directions.

Steering: adds strength x direction (unit norm) to the output of block --layer
during generation, for every prompt; writes the intact and steered continuations
(tables/steering_texts.tsv).  With --words (a word list) the readout is the share
of generated words in the list, and the direction's effect is compared with
--n-random random directions at the same strength and at the strength that costs
the same next-token loss (tables/steering_summary.tsv: effect, z, permutation p,
Cohen's d).  Effects on a real model need real weights.

Brain axes: --states (brain state per word, words x features, .npy) and --hidden
(the steered layer's hidden states per word, words x hidden size, .npy) fit a
PCA/ICA decomposition on the first --train-fraction of the words and ridge
adapters from the hidden states to the axes; writes axes/directions.npy and the
held-out r per axis (tables/axes_held_out.tsv).  Given --model too, the run
steers along axis --axis.

  brainalign steer --model ./gpt2 --direction dir.npy --layer 6 --strength 8 \\
      --prompt "The weather today" --words function_words.txt -o results/steer
  brainalign steer --states states.npy --hidden layer6.npy -o results/axes
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="a causal LM: hub id (in the local cache) or local folder")
    add_output(parser, required=True, type=Path, help="results folder to write")
    direction = parser.add_argument_group("direction")
    direction.add_argument("--direction", type=Path, default=None,
                           help="direction file: .npy (hidden size, or axes x hidden size) or a text file of numbers")
    direction.add_argument("--axis", type=int, default=0,
                           help="row of a 2-D direction file or of fitted axes (default: 0)")
    direction.add_argument("--layer", default=None, help="block whose output is steered: an index or a name (layer.3)")
    direction.add_argument("--strength", type=float, default=None, help="multiple of the unit direction added")
    prompts = parser.add_argument_group("prompts and readout")
    prompts.add_argument("--prompt", action="append", default=None, help="a prompt (repeat the flag for several)")
    prompts.add_argument("--prompts", type=Path, default=None, help="prompts, one per line")
    prompts.add_argument("--max-new-tokens", type=int, default=20, help="tokens generated per prompt (default: 20)")
    prompts.add_argument("--words", type=Path, default=None,
                         help="word list (one per line or whitespace-separated): readout = share of generated words in "
                              "it; enables the evaluation against random directions")
    prompts.add_argument("--sign", type=int, default=1, choices=[1, -1], help="expected direction of the change")
    prompts.add_argument("--n-random", type=int, default=20, help="random directions per control family (default: 20)")
    prompts.add_argument("--match-perplexity", action=argparse.BooleanOptionalAction, default=True,
                         help="also run random directions at the loss-matched strength")
    axes = parser.add_argument_group("brain axes")
    axes.add_argument("--states", type=Path, default=None, help="brain states per word (.npy, words x features)")
    axes.add_argument("--hidden", type=Path, default=None, help="hidden states per word of the steered layer (.npy)")
    axes.add_argument("--train-fraction", type=float, default=0.8,
                      help="first fraction of the words that fits the axes and adapters (default: 0.8)")
    axes.add_argument("--method", default="pca", choices=["pca", "ica"], help="decomposition (default: pca)")
    axes.add_argument("--n-components", type=int, default=4, help="axes (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random directions and of ICA (default: 0)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default: auto)")


def _array(path: Path, flag: str):
    import numpy as np

    from ..core import BrainalignInputError

    if not path.is_file():
        raise BrainalignInputError(f"{flag} {path} does not exist.")
    try:
        return np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=1)
    except ValueError as err:
        raise BrainalignInputError(f"{flag} {path} is not a numeric array: {err}") from None


def _lines(path: Path, flag: str) -> list[str]:
    from ..core import BrainalignInputError

    if not path.is_file():
        raise BrainalignInputError(f"{flag} {path} does not exist.")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fit_axes(args, out: Path):
    import numpy as np

    from ..core import BrainalignInputError, atomic_path, atomic_write_text, save_json
    from ..localize import fit_brain_axes

    if args.hidden is None:
        raise BrainalignInputError("--states needs --hidden: the hidden states of the steered layer, one row per word.")
    if not 0 < args.train_fraction < 1:
        raise BrainalignInputError(f"--train-fraction must be between 0 and 1, got {args.train_fraction}.")
    states, hidden = _array(args.states, "--states"), _array(args.hidden, "--hidden")
    n_train = int(round(args.train_fraction * len(states)))
    # contiguous words: neighbours in a continuous recording are correlated, so the held-out block comes last
    axes = fit_brain_axes(states, hidden, train=np.arange(n_train), method=args.method,
                          n_components=args.n_components, seed=args.seed)
    with atomic_path(out / "axes" / "directions.npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, axes.directions)
    atomic_write_text(out / "tables" / "axes_held_out.tsv", axes.held_out.to_csv(sep="\t", index=False))
    save_json(out / "axes" / "axes.json", {"params": axes.params, "states": str(args.states),
                                           "hidden": str(args.hidden)})
    print("held-out r per axis: " + ", ".join(f"{r.axis} {r.r:+.3f}" for r in axes.held_out.itertuples()))
    return axes.directions


def _layer(text):
    return int(text) if text.lstrip("-").isdigit() else text


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..core import BrainalignInputError, atomic_write_text, save_json

    out = Path(args.output)
    directions = _fit_axes(args, out) if args.states is not None else None
    if args.model is None:
        if directions is None:
            raise BrainalignInputError("Nothing to do: give --model with --direction (steering) or --states and "
                                       "--hidden (brain axes).")
        return 0
    if directions is None:
        if args.direction is None:
            raise BrainalignInputError("--model needs --direction FILE (or --states and --hidden to fit the axes).")
        directions = _array(args.direction, "--direction")
    directions = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if not 0 <= args.axis < len(directions):
        raise BrainalignInputError(f"--axis {args.axis} is out of range: the direction file has "
                                   f"{len(directions)} row(s).")
    direction = directions[args.axis]
    missing = [flag for flag, value in (("--layer", args.layer), ("--strength", args.strength)) if value is None]
    prompts = list(args.prompt or []) + (_lines(args.prompts, "--prompts") if args.prompts else [])
    if not prompts:
        missing.append("--prompt or --prompts")
    if missing:
        raise BrainalignInputError(f"Steering needs {', '.join(missing)}.")

    from ..localize import evaluate_steering, generate_steered, has_lm_head, load_language_model

    model, tokenizer = load_language_model(args.model, device=args.device)
    if not has_lm_head(model) or not hasattr(model, "generate"):
        raise BrainalignInputError(f"{args.model} has no language-model head to generate with; steer a causal LM.")
    layer = _layer(str(args.layer))
    params = {"command": "steer", "model": str(args.model), "direction": str(args.direction or out / "axes"),
              "axis": args.axis, "layer": str(layer), "strength": args.strength}
    if args.words is None:  # texts only: a readout is what the controls are compared on
        rows = []
        for condition, strength in (("intact", 0.0), ("direction", args.strength)):
            texts = generate_steered(model, tokenizer, prompts, direction, layer=layer, strength=strength,
                                     max_new_tokens=args.max_new_tokens, seed=args.seed)
            rows += [{"condition": condition, "prompt": i, "strength": strength, "text": t}
                     for i, t in enumerate(texts)]
        import pandas as pd

        atomic_write_text(out / "tables" / "steering_texts.tsv", pd.DataFrame(rows).to_csv(sep="\t", index=False))
        save_json(out / "steering.json", {"params": params})
        print(f"{len(prompts)} prompt(s) steered at {layer} x {args.strength:g}: texts in "
              f"{out / 'tables' / 'steering_texts.tsv'} (give --words to test against random directions)")
        return 0
    words = {w.lower() for line in _lines(args.words, "--words") for w in line.split()}

    def share_of_words(texts):
        return [float(np.mean([w.lower() in words for w in t.split()])) if t.split() else 0.0 for t in texts]

    report = evaluate_steering(model, tokenizer, prompts, direction, layer=layer, strength=args.strength,
                               readout=share_of_words, sign=args.sign, n_random=args.n_random,
                               match_perplexity=args.match_perplexity, max_new_tokens=args.max_new_tokens,
                               seed=args.seed)
    report.params.update(params, readout=f"share of words in {args.words}")
    report.save(out)
    for row in report.summary.itertuples():
        print(f"{row.control}: effect {row.effect:+.3f} (controls {row.control_mean:+.3f} ± {row.control_sd:.3f}), "
              f"z {row.z:+.2f}, p {row.p:.3g}, Cohen's d {row.cohens_d:+.2f}")
    return 0
