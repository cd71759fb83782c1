"""Where units live in a model, how to read them and how to silence them.

Three kinds of units, found generically (no per-model layer tables):

* ``"residual"``: the residual stream after each block (block outputs);
* ``"mlp"``: MLP neurons, i.e. the input of each block's MLP down-projection
  (post-nonlinearity; for gated MLPs the gated product);
* ``"attn_heads"``: attention-head outputs, i.e. the input of each block's
  attention output projection (``n_heads * head_dim`` units; unit ``u``
  belongs to head ``u // head_dim``).

Layer names follow the project convention ``"layer.0"``, ``"layer.1"``, ...
for every unit type.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..core import BrainalignInputError

logger = logging.getLogger("brainalign.localize")

UNIT_TYPES = ("residual", "mlp", "attn_heads")


@dataclass
class UnitSite:
    """One layer's units: the module to hook and whether its input or output holds them."""

    layer: str
    module: object
    where: str  # "output" or "input"


def unit_sites(model, unit_type: str = "residual") -> list[UnitSite]:
    """Hook points of every layer for ``unit_type`` (see module docstring)."""
    from ..features import _hooks

    if unit_type not in UNIT_TYPES:
        raise BrainalignInputError(f"unit_type must be one of {UNIT_TYPES}, got {unit_type!r}.")
    try:
        if unit_type == "residual":
            modules, where = _hooks.find_blocks(model), "output"
        elif unit_type == "mlp":
            modules, where = _hooks.find_mlp_output_projections(model), "input"
        else:
            modules, where = _hooks.find_attention_output_modules(model), "input"
    except ValueError as err:
        raise BrainalignInputError(f"unit_type={unit_type!r} is not available for {type(model).__name__}: {err}") from None
    return [UnitSite(f"layer.{i}", module, where) for i, module in enumerate(modules)]


def model_fingerprint(model) -> str:
    """Identity of a model's weights: the feature engine's fingerprint of its backbone.

    Computed on the backbone (no LM head), so a bare model and the same model
    with its head share a fingerprint, as do copies of it in other folders.
    """
    from ..features import model_fingerprint as engine_fingerprint

    return engine_fingerprint(backbone(model))


# ----------------------------------------------------------------- tokenizing
@dataclass
class Batch:
    input_ids: object  # torch.LongTensor (B, T)
    attention_mask: object  # torch.LongTensor (B, T)
    content: object  # torch.BoolTensor (B, T): real (non-special, non-pad) tokens
    last: object  # torch.LongTensor (B,): position of the last content token


def content_lengths(tokenizer, texts: Sequence[str]) -> np.ndarray:
    """Number of non-special tokens of each text."""
    counts = []
    for text in texts:
        ids, special = _encode(tokenizer, text)
        counts.append(len(ids) - int(np.sum(special)))
    return np.array(counts, dtype=int)


def _encode(tokenizer, text: str) -> tuple[list[int], list[int]]:
    enc = tokenizer(text, add_special_tokens=True, return_special_tokens_mask=True)
    ids = list(enc["input_ids"])
    special = list(enc.get("special_tokens_mask") or [0] * len(ids))
    return ids, special


def encode_texts(tokenizer, texts: Sequence[str], token_budget: int | None, pad_id: int = 0) -> Batch:
    """Tokenize with special tokens, keep at most ``token_budget`` content tokens, right-pad."""
    import torch

    rows, specials = [], []
    for text in texts:
        ids, special = _encode(tokenizer, text)
        content = [i for i, s in enumerate(special) if not s]
        if not content:
            raise BrainalignInputError(f"Stimulus {text!r} produced no (non-special) tokens.")
        if token_budget is not None and len(content) > token_budget:
            cut = content[token_budget - 1]
            keep = [i for i in range(len(ids)) if i <= cut or (special[i] and i > content[-1])]
            ids = [ids[i] for i in keep]
            special = [special[i] for i in keep]
        rows.append(ids)
        specials.append(special)
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), int(pad_id), dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    content = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, (ids, special) in enumerate(zip(rows, specials)):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        attention[b, : len(ids)] = 1
        content[b, : len(ids)] = torch.tensor([not s for s in special])
    positions = torch.arange(width).expand(len(rows), width)
    last = torch.where(content, positions, torch.full_like(positions, -1)).max(dim=1).values
    return Batch(input_ids, attention, content, last)


def check_length(model, batch: Batch, what: str = "stimulus") -> None:
    """Raise a clear error when a sequence is longer than the model's position limit."""
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    width = int(batch.input_ids.shape[1])
    if isinstance(limit, int) and width > limit:
        raise BrainalignInputError(
            f"A {what} is {width} tokens long but the model accepts at most {limit} positions; "
            "pass a token budget (token_budget= / max_tokens=) to truncate."
        )


def pad_token_id(tokenizer) -> int:
    for attr in ("pad_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return int(value)
    return 0


def backbone(model):
    """The model without its LM head (hooks on blocks fire the same, logits are skipped)."""
    from ..features._hooks import _base_model

    return _base_model(model)


def model_name(model) -> str:
    """The name a model object was loaded from (``config._name_or_path``), else its class name."""
    return str(getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__)


# ------------------------------------------------------------------- capture
@contextmanager
def capture_units(model, sites: Sequence[UnitSite]) -> Iterator[list[list[object]]]:
    """Record each site's (batch, tokens, units) tensors (one per forward pass)."""
    from ..features import capture

    with capture(model, [s.module for s in sites], [s.where for s in sites]) as records:
        yield records


@contextmanager
def silence_units(sites: Sequence[UnitSite], index: dict[str, np.ndarray], values: dict[str, np.ndarray]) -> Iterator[None]:
    """Overwrite units ``index[layer]`` with ``values[layer]`` at every token."""
    import torch

    handles = []

    def _replace(hidden, layer):
        idx = torch.as_tensor(index[layer], device=hidden.device, dtype=torch.long)
        val = torch.as_tensor(values[layer], device=hidden.device, dtype=hidden.dtype)
        hidden = hidden.clone()
        hidden[..., idx] = val
        return hidden

    def make_output_hook(layer):
        def hook(module, args, output):
            if isinstance(output, torch.Tensor):
                return _replace(output, layer)
            if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
                return (_replace(output[0], layer),) + tuple(output[1:])
            if hasattr(output, "last_hidden_state"):
                output.last_hidden_state = _replace(output.last_hidden_state, layer)
                return output
            raise RuntimeError(f"Cannot ablate {layer}: unexpected block output {type(output).__name__}.")
        return hook

    def make_input_hook(layer):
        def pre_hook(module, args, kwargs):
            if args and isinstance(args[0], torch.Tensor):
                return (_replace(args[0], layer),) + tuple(args[1:]), kwargs
            if isinstance(kwargs.get("hidden_states"), torch.Tensor):
                return args, {**kwargs, "hidden_states": _replace(kwargs["hidden_states"], layer)}
            raise RuntimeError(f"Cannot ablate {layer}: the hooked module got no tensor input.")
        return pre_hook

    try:
        for site in sites:
            if site.layer not in index or len(index[site.layer]) == 0:
                continue
            if site.where == "output":
                handles.append(site.module.register_forward_hook(make_output_hook(site.layer)))
            else:
                handles.append(site.module.register_forward_pre_hook(make_input_hook(site.layer), with_kwargs=True))
        yield
    finally:
        for handle in handles:
            handle.remove()
