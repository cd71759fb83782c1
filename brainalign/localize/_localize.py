"""Localize units whose responses separate two localizer conditions (Welch t, top-k%)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .._logging import progress_disabled, quiet_transformers
from ..core import BrainalignInputError, content_key, load_arrays, save_arrays, save_json
from ..features import resolve_device, resolve_model_name
from ._mask import UnitMask, select_units, welch_t
from ._stimuli import LocalizerStimuli
from ._units import (
    UNIT_TYPES,
    backbone,
    capture_units,
    check_length,
    content_lengths,
    encode_texts,
    model_fingerprint,
    model_name,
    pad_token_id,
    unit_sites,
)

logger = logging.getLogger("brainalign.localize")

__all__ = ["load_language_model", "localize_units", "unit_activations"]

#: parameters that change a mask: together they make the cache key
MASK_KEY_PARAMS = (
    "model_fingerprint",
    "stimuli_hash",
    "unit_type",
    "pooling",
    "token_budget",
    "signed",
    "fraction",
    "scope",
    "fdr_alpha",
)
#: the subset that changes the unit activations: the activation cache key
_ACTIVATION_KEY_PARAMS = ("model_fingerprint", "stimuli_hash", "unit_type", "pooling", "token_budget")


def load_language_model(name_or_path: str | Path, *, device: str = "auto", **kwargs):
    """Load a Hugging Face model and tokenizer, keeping its LM head when it has one.

    The head class is chosen from ``config.architectures``: ``*ForCausalLM`` /
    ``*LMHeadModel`` -> causal LM, ``*ForMaskedLM`` / ``*ForPreTraining`` ->
    masked LM, anything else -> the bare encoder/decoder (``AutoModel``).

    Returns
    -------
    model, tokenizer
    """
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    quiet_transformers()
    name_or_path = resolve_model_name(name_or_path)  # bundled:all-MiniLM-L6-v2 -> its folder
    config = AutoConfig.from_pretrained(name_or_path, **kwargs)
    archs = list(getattr(config, "architectures", None) or [])
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        cls = AutoModelForCausalLM
    elif any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in archs):
        cls = AutoModelForMaskedLM
    else:
        cls = AutoModel
    model = cls.from_pretrained(name_or_path, **kwargs).eval()
    model.to(resolve_device(device))
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    return model, tokenizer


def _resolve_model(model, tokenizer, device: str):
    if isinstance(model, (str, Path)):
        loaded, loaded_tok = load_language_model(model, device=device)
        return loaded, tokenizer if tokenizer is not None else loaded_tok, str(model)
    if tokenizer is None:
        raise BrainalignInputError(
            "Pass tokenizer= together with a model object (or give a model name / directory to load both)."
        )
    if device != "auto":
        model.to(resolve_device(device))
    return model, tokenizer, model_name(model)


def _model_device(model):
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - parameterless model
        import torch

        return torch.device("cpu")


def _resolve_budget(tokenizer, texts, pooling: str, token_budget) -> int | None:
    if token_budget is None:
        return None
    if isinstance(token_budget, str):
        if token_budget != "auto":
            raise BrainalignInputError(f"token_budget must be an int, None or 'auto', got {token_budget!r}.")
        if pooling != "last":
            return None
        return int(content_lengths(tokenizer, texts).min())
    if not isinstance(token_budget, (int, np.integer)) or token_budget < 1:
        raise BrainalignInputError(f"token_budget must be a positive int, None or 'auto', got {token_budget!r}.")
    return int(token_budget)


def unit_activations(
    model,
    texts,
    *,
    tokenizer,
    unit_type: str = "residual",
    pooling: str = "last",
    token_budget: int | None = None,
    batch_size: int = 16,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Pooled unit activations of every layer for each text, and per-unit token means.

    Returns
    -------
    pooled : dict layer -> ndarray, shape (n_texts, n_units)
        Last content token (``pooling="last"``) or mean over content tokens
        (``"mean"``); special and padding tokens are never pooled.
    token_means : dict layer -> ndarray, shape (n_units,)
        Mean over every content token of every text (for mean-ablation).
    """
    import torch
    from tqdm.auto import tqdm

    if pooling not in ("last", "mean"):
        raise BrainalignInputError(f"pooling must be 'last' or 'mean', got {pooling!r}.")
    if batch_size < 1:
        raise BrainalignInputError(f"batch_size must be >= 1, got {batch_size}.")
    texts = list(texts)
    sites = unit_sites(model, unit_type)
    device = _model_device(model)
    pad = pad_token_id(tokenizer)
    pooled = {s.layer: [] for s in sites}
    sums = {s.layer: None for s in sites}
    n_tokens = 0
    net = backbone(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), capture_units(model, sites) as records:
            for start in tqdm(range(0, len(texts), batch_size), desc="localizer", unit="batch",
                              disable=progress_disabled(), leave=False):
                batch = encode_texts(tokenizer, texts[start : start + batch_size], token_budget, pad)
                check_length(model, batch)
                for rec in records:
                    rec.clear()
                net(input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device))
                content = batch.content.to(device)
                weights = content.to(torch.float32)
                n_tokens += int(content.sum())
                for site, rec in zip(sites, records):
                    if len(rec) != 1:
                        raise RuntimeError(f"{site.layer} was called {len(rec)} times in one forward pass.")
                    hidden = rec[0].to(torch.float32)
                    weighted = hidden * weights[..., None]
                    if pooling == "last":
                        rows = hidden[torch.arange(hidden.shape[0], device=device), batch.last.to(device)]
                    else:
                        rows = weighted.sum(1) / weights.sum(1, keepdim=True)
                    pooled[site.layer].append(rows.cpu().numpy())
                    total = weighted.sum((0, 1)).cpu().numpy().astype(np.float64)
                    sums[site.layer] = total if sums[site.layer] is None else sums[site.layer] + total
    finally:
        model.train(was_training)
    acts = {layer: np.concatenate(parts, axis=0) for layer, parts in pooled.items()}
    means = {layer: total / max(n_tokens, 1) for layer, total in sums.items()}
    return acts, means


def localize_units(
    model,
    stimuli: LocalizerStimuli,
    *,
    tokenizer=None,
    fraction: float = 0.01,
    scope: str = "all",
    unit_type: str = "residual",
    pooling: str = "last",
    token_budget: int | str | None = "auto",
    signed: bool = True,
    fdr_alpha: float | None = None,
    batch_size: int = 16,
    cache_dir: str | Path | None = None,
    device: str = "auto",
) -> UnitMask:
    """Select the units that respond more to condition A than to condition B.

    For every unit, a Welch t-test compares its pooled activation over the A
    stimuli with the B stimuli; the ``fraction`` of units with the largest t
    (A > B) is selected, across all layers (``scope="all"``) or within each
    layer (``"per_layer"``).  The count is ``round(fraction * n_units)``
    rounded half up and at least 1: 1% of 6 layers x 384 residual units is
    ``round(23.04) = 23``.

    Parameters
    ----------
    model : transformers model, or str / Path
        Any Hugging Face causal or masked LM (or bare encoder); a name or
        directory is loaded with :func:`load_language_model`.
    stimuli : LocalizerStimuli
        E.g. :func:`language_localizer`.
    tokenizer : tokenizer, optional
        Required when ``model`` is an object.
    fraction : float
        Fraction of units to keep (default 1%).
    scope : {"all", "per_layer"}
    unit_type : {"residual", "mlp", "attn_heads"}
        Residual stream after each block (default), MLP neurons, or
        attention-head outputs (see :mod:`brainalign.localize._units`).
    pooling : {"last", "mean"}
        Last content token (default) or mean over content tokens.
    token_budget : int, "auto" or None
        Keep at most this many content tokens per stimulus.  ``"auto"``
        (default) uses, with last-token pooling, the shortest stimulus' length
        so that every stimulus is read at the same position (sentences and
        non-word lists tokenize to different lengths); with mean pooling it
        means no truncation.  The resolved number is in ``params``.
    signed : bool
        Test the activations as they are (default) or their absolute values
        (selects units whose magnitude is larger for A).
    fdr_alpha : float or None
        Also require Benjamini-Hochberg q <= ``fdr_alpha`` (one-sided p).
    batch_size : int
    cache_dir : str or Path or None
        Cache activations under ``<cache_dir>/activations/<key>`` and masks
        under ``<cache_dir>/masks/<key>``; the mask key covers every parameter
        that changes the mask (:data:`MASK_KEY_PARAMS`), so changing only
        ``fraction`` reuses the cached activations.
    device : str
        ``"auto"`` keeps a model object where it is (a loaded model goes to
        CUDA when available); any other value moves the model there.

    Returns
    -------
    UnitMask

    Examples
    --------
    >>> from brainalign.localize import language_localizer, localize_units
    >>> mask = localize_units("gpt2", language_localizer(n=64))  # doctest: +SKIP
    >>> mask.n_selected  # doctest: +SKIP
    92
    """
    if not isinstance(stimuli, LocalizerStimuli):
        raise BrainalignInputError(
            f"stimuli must be a LocalizerStimuli (e.g. language_localizer()), got {type(stimuli).__name__}."
        )
    if unit_type not in UNIT_TYPES:
        raise BrainalignInputError(f"unit_type must be one of {UNIT_TYPES}, got {unit_type!r}.")
    if pooling not in ("last", "mean"):
        raise BrainalignInputError(f"pooling must be 'last' or 'mean', got {pooling!r}.")
    model, tokenizer, model_name = _resolve_model(model, tokenizer, device)
    texts = stimuli.texts
    budget = _resolve_budget(tokenizer, texts, pooling, token_budget)
    fingerprint = model_fingerprint(model)
    params: dict[str, Any] = {
        "model_fingerprint": fingerprint,
        "stimuli_hash": stimuli.content_hash,
        "unit_type": unit_type,
        "pooling": pooling,
        "token_budget": budget,
        "signed": bool(signed),
        "fraction": float(fraction),
        "scope": scope,
        "fdr_alpha": None if fdr_alpha is None else float(fdr_alpha),
    }
    key = content_key({k: params[k] for k in MASK_KEY_PARAMS})
    params.update({
        "model": model_name,
        "localizer": stimuli.name,
        "labels": list(stimuli.labels),
        "n_per_condition": stimuli.n_per_condition,
        "stimuli_source": stimuli.metadata.get("source"),
        "token_budget_requested": token_budget,
    })
    mask_dir = Path(cache_dir) / "masks" / key if cache_dir is not None else None
    if mask_dir is not None and (mask_dir / "mask.json").is_file():
        logger.info("Loading cached unit mask %s", mask_dir)
        return UnitMask.load(mask_dir)

    act_key = content_key({k: params[k] for k in _ACTIVATION_KEY_PARAMS})
    act_file = Path(cache_dir) / "activations" / act_key / "activations.npz" if cache_dir is not None else None
    if act_file is not None and act_file.is_file():
        arrays = load_arrays(act_file)
        layers = [k[len("pooled/"):] for k in arrays if k.startswith("pooled/")]
        acts = {l: arrays[f"pooled/{l}"] for l in layers}
        means = {l: arrays[f"mean/{l}"] for l in layers}
    else:
        acts, means = unit_activations(model, texts, tokenizer=tokenizer, unit_type=unit_type, pooling=pooling,
                                       token_budget=budget, batch_size=batch_size)
        if act_file is not None:
            save_arrays(act_file, {**{f"pooled/{l}": a for l, a in acts.items()},
                                   **{f"mean/{l}": m for l, m in means.items()}})
            save_json(act_file.with_name("activations.json"),
                      {k: params[k] for k in (*_ACTIVATION_KEY_PARAMS, "model")})

    is_a = stimuli.is_a
    t_values, p_values = {}, {}
    for layer, a in acts.items():
        values = a if signed else np.abs(a)
        t_values[layer], p_values[layer] = welch_t(values[is_a], values[~is_a])
    selected = select_units(t_values, p_values, fraction=fraction, scope=scope, fdr_alpha=fdr_alpha)
    mask = UnitMask(selected, t_values, p_values, params, key, means)
    logger.info("Localized %d of %d %s units (%s > %s)", mask.n_selected, mask.n_units, unit_type, *stimuli.labels)
    if mask_dir is not None:
        mask.save(mask_dir)
    return mask
