"""Steer a language model along a direction of its residual stream, and test the effect.

:func:`steer` adds ``strength * direction`` to the output of block ``layer``
(the residual stream, the same hook points as the ``"residual"`` units of
:mod:`brainalign.localize`) at every position while the context is active,
including every step of ``model.generate``.  :func:`evaluate_steering` asks
whether a direction (e.g. a brain-derived axis from
:func:`brainalign.localize.fit_brain_axes`) changes a readout of the
generated text more than

* random directions of the same norm at the same strength, and
* random directions scaled to cost the same perplexity (a direction that only
  breaks the model also changes most readouts),

with a permutation p (rank of the direction's effect among the controls) and
an effect size (z against the controls, and Cohen's d over prompts).

Effects on a *real* model need real weights; the tests run on random-init
models with a planted direction, which checks the mechanics only.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from .._logging import progress_disabled
from ..core import BrainalignInputError
from ._units import unit_sites

logger = logging.getLogger("brainalign.localize")

__all__ = ["SteeringReport", "evaluate_steering", "generate_steered", "steer"]


def _layer_index(model, layer) -> tuple[int, Any]:
    sites = unit_sites(model, "residual")
    if isinstance(layer, str):
        names = [s.layer for s in sites]
        if layer not in names:
            raise BrainalignInputError(f"layer {layer!r} is not one of the model's blocks {names[0]} .. {names[-1]}.")
        index = names.index(layer)
    else:
        index = int(layer)
        if not -len(sites) <= index < len(sites):
            raise BrainalignInputError(f"layer {layer!r} is out of range for a model with {len(sites)} blocks.")
        index %= len(sites)
    return index, sites[index]


@contextmanager
def steer(model, direction, *, layer, strength: float = 1.0, normalize: bool = True) -> Iterator[Any]:
    """Add ``strength * direction`` to the residual stream after block ``layer``.

    Parameters
    ----------
    model : transformers model
        Any model whose blocks :mod:`brainalign.features` finds (decoders for
        generation; encoders work for forward passes).
    direction : array-like, shape (hidden_size,)
    layer : int or str
        Block index (negative counts from the end) or ``"layer.i"``.
    strength : float
        Added norm (with ``normalize=True``) in units of the residual stream.
    normalize : bool
        Scale ``direction`` to unit norm first.

    Examples
    --------
    >>> with steer(model, axis_direction, layer=6, strength=8.0):  # doctest: +SKIP
    ...     out = model.generate(**inputs, max_new_tokens=20)
    """
    import torch

    from ..features import hidden_size

    _, site = _layer_index(model, layer)
    vector = np.asarray(direction, dtype=np.float64).ravel()
    width = hidden_size(model)
    if vector.size != width:
        raise BrainalignInputError(f"direction has {vector.size} values but the residual stream has {width}.")
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        raise BrainalignInputError("direction must be finite and not all zeros.")
    if not np.isfinite(strength):
        raise BrainalignInputError(f"strength must be a finite number, got {strength!r}.")
    if normalize:
        vector = vector / np.linalg.norm(vector)
    shift_cpu = torch.as_tensor(vector * float(strength))

    def add(hidden):
        return hidden + shift_cpu.to(device=hidden.device, dtype=hidden.dtype)

    def hook(module, args, output):
        # block outputs are a tensor, a tuple led by the hidden states, or a ModelOutput
        if isinstance(output, torch.Tensor):
            return add(output)
        if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
            return (add(output[0]),) + tuple(output[1:])
        if hasattr(output, "last_hidden_state"):
            output.last_hidden_state = add(output.last_hidden_state)
            return output
        raise RuntimeError(f"Cannot steer {site.layer}: unexpected block output {type(output).__name__}.")

    handle = site.module.register_forward_hook(hook)
    try:
        yield model
    finally:
        handle.remove()


def generate_steered(
    model,
    tokenizer,
    prompts: Sequence[str],
    direction=None,
    *,
    layer=0,
    strength: float = 0.0,
    max_new_tokens: int = 20,
    do_sample: bool = False,
    seed: int = 0,
    **generate_kwargs: Any,
) -> list[str]:
    """Continuations of ``prompts`` (new tokens only, decoded) with the model steered.

    ``direction=None`` or ``strength=0`` generates from the intact model.
    Sampling (``do_sample=True``) is seeded with ``seed`` before every prompt so
    that steered and control runs draw the same random numbers.
    """
    import torch

    if isinstance(prompts, str) or not prompts:
        raise BrainalignInputError("prompts must be a non-empty list of strings.")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = []
    device = next(model.parameters()).device
    active = direction is not None and strength != 0
    context = steer(model, direction, layer=layer, strength=strength) if active else _nullcontext(model)
    with context, torch.inference_mode():
        for prompt in prompts:
            enc = tokenizer(prompt, return_tensors="pt").to(device)
            torch.manual_seed(seed)
            ids = model.generate(**enc, max_new_tokens=int(max_new_tokens), do_sample=do_sample, pad_token_id=pad,
                                 **generate_kwargs)
            out.append(tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


@contextmanager
def _nullcontext(model):
    yield model


def _steered_loss(model, tokenizer, texts, direction, layer, strength) -> float:
    from ._ablate import sequence_logprobs

    context = steer(model, direction, layer=layer, strength=strength) if strength else _nullcontext(model)
    with context:
        lps = sequence_logprobs(model, tokenizer, texts)
    return float(-np.concatenate(lps).mean())


def _match_strength(model, tokenizer, texts, direction, layer, target_loss, max_strength, steps=12) -> float:
    """Strength at which ``direction`` costs ``target_loss`` (bisection; the loss grows with strength)."""
    lo, hi = 0.0, float(max_strength)
    if _steered_loss(model, tokenizer, texts, direction, layer, hi) < target_loss:
        return hi
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if _steered_loss(model, tokenizer, texts, direction, layer, mid) < target_loss:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(eq=False)
class SteeringReport:
    """Readout of steered generations vs random-direction controls.

    Attributes
    ----------
    per_prompt : DataFrame
        ``condition`` (``intact``, ``direction``, ``random``,
        ``random_ppl_matched``), ``control`` (index of the random direction,
        -1 otherwise), ``prompt``, ``strength``, ``text``, ``readout``.
    summary : DataFrame
        One row per control family: ``effect`` (mean readout change of the
        direction vs intact), ``control_mean`` / ``control_sd`` (of the
        controls' mean changes), ``z``, ``p`` (one-sided in ``sign``),
        ``cohens_d`` (paired change of the direction over prompts),
        ``loss_intact`` / ``loss_direction`` (nats per token on the prompts).
    params : dict
    """

    per_prompt: pd.DataFrame
    summary: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def save(self, directory) -> Path:
        """Write ``tables/steering_texts.tsv``, ``tables/steering_summary.tsv`` and ``steering.json`` (atomic)."""
        from ..core import atomic_write_text, save_json

        directory = Path(directory)
        atomic_write_text(directory / "tables" / "steering_texts.tsv", self.per_prompt.to_csv(sep="\t", index=False))
        atomic_write_text(directory / "tables" / "steering_summary.tsv", self.summary.to_csv(sep="\t", index=False))
        save_json(directory / "steering.json", {"params": self.params})
        return directory

    def __repr__(self) -> str:
        rows = ", ".join(f"{r.control}: effect {r.effect:+.3g}, z {r.z:+.2f}, p {r.p:.3g}" for r in self.summary.itertuples())
        return f"SteeringReport({rows})"


def evaluate_steering(
    model,
    tokenizer,
    prompts: Sequence[str],
    direction,
    *,
    layer,
    strength: float,
    readout: Callable[[list[str]], Sequence[float]],
    sign: int = 1,
    n_random: int = 20,
    match_perplexity: bool = True,
    max_new_tokens: int = 20,
    do_sample: bool = False,
    seed: int = 0,
) -> SteeringReport:
    """Does steering along ``direction`` move ``readout`` more than random directions do?

    Parameters
    ----------
    model, tokenizer
        A causal LM (``generate``) and its tokenizer.
    prompts : sequence of str
    direction : array-like, shape (hidden_size,)
    layer : int or str
    strength : float
    readout : callable
        Maps the list of generated continuations to one number each (e.g.
        mean log word frequency, share of function words, an adapter's
        predicted axis score).
    sign : {1, -1}
        Expected direction of the change (the one-sided test).
    n_random : int
        Random directions (Gaussian, unit norm) per control family.
    match_perplexity : bool
        Also run every random direction at the strength that costs the same
        next-token loss on the prompts as ``direction`` (bisection).

    Returns
    -------
    SteeringReport
    """
    from tqdm.auto import tqdm

    from ..features import hidden_size

    if sign not in (1, -1):
        raise BrainalignInputError(f"sign must be 1 or -1, got {sign!r}.")
    if int(n_random) < 2:
        raise BrainalignInputError(f"n_random must be >= 2 for a control distribution, got {n_random!r}.")
    prompts = list(prompts)
    if not prompts:
        raise BrainalignInputError("evaluate_steering needs at least one prompt.")

    def score(texts):
        values = np.asarray(readout(list(texts)), dtype=np.float64).ravel()
        if values.size != len(texts):
            raise BrainalignInputError(f"readout returned {values.size} values for {len(texts)} texts; return one per text.")
        return values

    gen = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, seed=seed)
    rows = []

    def run(condition, control, vector, s):
        texts = generate_steered(model, tokenizer, prompts, vector, layer=layer, strength=s, **gen)
        values = score(texts)
        rows.extend({"condition": condition, "control": control, "prompt": i, "strength": s, "text": t, "readout": v}
                    for i, (t, v) in enumerate(zip(texts, values)))
        return values

    was_training = model.training
    model.eval()
    try:
        intact = run("intact", -1, None, 0.0)
        steered = run("direction", -1, direction, strength)
        rng = np.random.default_rng(seed)
        randoms = rng.standard_normal((int(n_random), hidden_size(model)))
        loss_intact = _steered_loss(model, tokenizer, prompts, None, layer, 0.0)
        loss_direction = _steered_loss(model, tokenizer, prompts, direction, layer, strength)
        families = {"random": []}
        if match_perplexity:
            families["random_ppl_matched"] = []
        for i, vector in enumerate(tqdm(randoms, desc="steering controls", disable=progress_disabled(), leave=False)):
            families["random"].append(run("random", i, vector, strength).mean() - intact.mean())
            if match_perplexity:
                s = _match_strength(model, tokenizer, prompts, vector, layer, loss_direction, 4 * abs(strength))
                families["random_ppl_matched"].append(run("random_ppl_matched", i, vector, s).mean() - intact.mean())
    finally:
        model.train(was_training)
    change = steered - intact
    effect = float(change.mean())
    sd_change = change.std(ddof=1) if change.size > 1 else np.nan
    cohens_d = float(change.mean() / sd_change) if sd_change and np.isfinite(sd_change) and sd_change > 0 else np.nan
    summary = []
    for family, effects in families.items():
        effects = np.asarray(effects)
        sd = effects.std(ddof=1)
        z = (effect - effects.mean()) / sd if sd > 0 else np.sign(effect - effects.mean()) * np.inf
        p = (1.0 + np.sum(sign * effects >= sign * effect)) / (1.0 + effects.size)
        summary.append({"control": family, "effect": effect, "control_mean": float(effects.mean()),
                        "control_sd": float(sd), "z": float(z), "p": float(p), "cohens_d": cohens_d,
                        "loss_intact": loss_intact, "loss_direction": loss_direction})
    params = {"layer": str(layer), "strength": float(strength), "n_random": int(n_random), "sign": int(sign),
              "match_perplexity": bool(match_perplexity), **gen}
    report = SteeringReport(pd.DataFrame(rows), pd.DataFrame(summary), params)
    logger.info("%s", report)
    return report
