"""Generic discovery of transformer blocks and sub-modules, and hook-based capture.

No per-architecture tables: blocks are found from the module structure (the
longest :class:`torch.nn.ModuleList` of identical modules under the base model,
preferring one whose length matches ``config.num_hidden_layers``), and the
attention / MLP parts of a block from module classes and weight shapes.  This
covers GPT-2, GPT-NeoX, OPT, Llama / Qwen / Mistral / Gemma-style decoders and
BERT / RoBERTa-style encoders.

Public API (stable, also used by :mod:`brainalign.localize`):

- :func:`find_blocks` -- the transformer blocks, in order.
- :func:`find_embedding_module` -- the token-embedding lookup.
- :func:`find_mlp_activation_modules` -- per block, the module whose *output*
  is the MLP's nonlinearity (the intermediate neurons).
- :func:`find_mlp_output_projections` -- per block, the MLP down-projection
  whose *input* is exactly the intermediate neurons (``act(gate) * up`` for
  gated MLPs).
- :func:`find_attention_output_modules` -- per block, the projection whose
  *input* is the concatenation of the attention heads' outputs.
- :func:`capture` -- context manager recording module inputs or outputs.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

__all__ = [
    "capture",
    "find_attention_output_modules",
    "find_blocks",
    "find_embedding_module",
    "find_mlp_activation_modules",
    "find_mlp_output_projections",
    "hidden_size",
]

_TORCH_ACTIVATIONS = (
    nn.GELU,
    nn.ReLU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Mish,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.Softplus,
    nn.ReLU6,
    nn.Hardswish,
)


def _base_model(model: nn.Module) -> nn.Module:
    base = getattr(model, "base_model", None)
    return base if isinstance(base, nn.Module) else model


def _config_value(model: nn.Module, *names: str):
    config = getattr(model, "config", None)
    if config is None:
        return None
    for sub in (config, getattr(config, "text_config", None)):
        if sub is None:
            continue
        for name in names:
            value = getattr(sub, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def find_blocks(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks of ``model``, in forward order.

    The blocks are the longest :class:`torch.nn.ModuleList` under the base
    model whose children all share one class.  When several lists qualify
    (e.g. encoder and decoder stacks), the one whose length equals
    ``config.num_hidden_layers`` wins, then the first in registration order.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face model (with or without a task head) or any module
        holding a stack of identical blocks.

    Returns
    -------
    list of torch.nn.Module

    Examples
    --------
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=3, n_embd=16, n_head=2, vocab_size=50))
    >>> len(find_blocks(model))
    3
    """
    base = _base_model(model)
    candidates: list[nn.ModuleList] = []
    for module in base.modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            classes = {type(child) for child in module}
            if len(classes) == 1 and not isinstance(module[0], (nn.Linear, nn.Embedding)):
                candidates.append(module)
    if not candidates:
        raise ValueError(
            f"Could not find a stack of transformer blocks (an nn.ModuleList of identical modules) "
            f"in {type(model).__name__}."
        )
    n_layers = _config_value(model, "num_hidden_layers", "n_layer", "num_layers")
    matching = [c for c in candidates if n_layers is not None and len(c) == n_layers]
    pool = matching or candidates
    best = max(pool, key=len)  # max keeps the first among equals
    return list(best)


def find_embedding_module(model: nn.Module) -> nn.Module:
    """The token-embedding lookup (``wte``, ``embed_tokens``, ``word_embeddings``...).

    Uses ``model.get_input_embeddings()`` when available, else the first
    :class:`torch.nn.Embedding` of the base model.  Note that the
    ``"embeddings"`` *features* of :func:`brainalign.features.extract_text_features`
    are the input of the first block (token + position embeddings, after any
    embedding norm), not this module's output.
    """
    getter = getattr(model, "get_input_embeddings", None)
    if callable(getter):
        try:
            module = getter()
        except (NotImplementedError, AttributeError):
            module = None
        if isinstance(module, nn.Module):
            return module
    for module in _base_model(model).modules():
        if isinstance(module, nn.Embedding):
            return module
    raise ValueError(f"Could not find a token-embedding module in {type(model).__name__}.")


def hidden_size(model: nn.Module) -> int:
    """Width of the residual stream (``config.hidden_size`` or the embedding width)."""
    size = _config_value(model, "hidden_size", "n_embd", "d_model", "dim")
    if size is not None:
        return size
    emb = find_embedding_module(model)
    return int(emb.weight.shape[1])


def _linear_dims(module: nn.Module) -> tuple[int, int] | None:
    """``(in_features, out_features)`` of a Linear-like module (incl. GPT-2's Conv1D)."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    weight = getattr(module, "weight", None)
    if type(module).__name__ == "Conv1D" and isinstance(weight, torch.Tensor) and weight.ndim == 2:
        return int(weight.shape[0]), int(weight.shape[1])  # Conv1D stores (in, out)
    return None


def _is_attention(module: nn.Module) -> bool:
    return "attention" in type(module).__name__.lower()


def _attention_roots(block: nn.Module) -> list[nn.Module]:
    """Outermost attention sub-modules of a block (by class name, else by attribute name)."""
    roots: list[nn.Module] = []
    covered: set[int] = set()
    for _, module in block.named_modules():
        if module is block or id(module) in covered:
            continue
        if _is_attention(module):
            roots.append(module)
            covered.update(id(m) for m in module.modules())
    if roots:
        return roots
    for name, module in block.named_children():
        if "attn" in name.lower() or "attention" in name.lower():
            roots.append(module)
    return roots


def _modules_outside(block: nn.Module, excluded: Sequence[nn.Module]) -> list[nn.Module]:
    skip: set[int] = set()
    for root in excluded:
        skip.update(id(m) for m in root.modules())
    return [m for m in block.modules() if m is not block and id(m) not in skip]


def _is_activation(module: nn.Module) -> bool:
    if isinstance(module, _TORCH_ACTIVATIONS):
        return True
    cls = type(module)
    return cls.__module__.endswith(".activations") or cls.__name__.endswith("Activation")


def find_mlp_output_projections(model: nn.Module) -> list[nn.Module]:
    """Per block, the MLP down-projection; its *input* is the intermediate neurons.

    The down-projection is the Linear-like module outside the attention
    sub-module whose output width is the hidden size and whose input width is
    larger (the widest such one).  Its input is exactly the MLP units:
    ``act(W_in x)`` for GPT-2 / BERT, ``act(gate_proj x) * up_proj x`` for gated
    (Llama-style) MLPs.  Capture with ``capture(model, modules, kind="input")``.
    """
    width = hidden_size(model)
    found = []
    for i, block in enumerate(find_blocks(model)):
        best, best_in = None, -1
        for module in _modules_outside(block, _attention_roots(block)):
            dims = _linear_dims(module)
            if dims and dims[1] == width and dims[0] != width and dims[0] > best_in:
                best, best_in = module, dims[0]
        if best is None:
            raise ValueError(
                f"Block {i} ({type(block).__name__}) has no MLP down-projection "
                f"(a linear layer mapping an intermediate width to the hidden size {width})."
            )
        found.append(best)
    return found


def find_mlp_activation_modules(model: nn.Module) -> list[nn.Module]:
    """Per block, the module whose *output* is the MLP's intermediate activation.

    This is the activation-function module of the MLP (GPT-2 ``mlp.act``,
    Llama ``mlp.act_fn``, BERT ``intermediate.intermediate_act_fn``), found as
    the last activation module outside the attention sub-module.  For gated
    MLPs this output is ``act(gate_proj x)`` -- zeroing it silences the unit
    exactly, but the unit's value is ``act(gate) * up``; use
    :func:`find_mlp_output_projections` with ``kind="input"`` to record that.

    Raises
    ------
    ValueError
        When a block applies its nonlinearity as a plain function (no module).
    """
    found = []
    for i, block in enumerate(find_blocks(model)):
        acts = [m for m in _modules_outside(block, _attention_roots(block)) if _is_activation(m)]
        if not acts:
            raise ValueError(
                f"Block {i} ({type(block).__name__}) has no activation module (its nonlinearity is "
                "a plain function); use find_mlp_output_projections(model) with kind='input'."
            )
        found.append(acts[-1])
    return found


def find_attention_output_modules(model: nn.Module) -> list[nn.Module]:
    """Per block, the attention output projection; its *input* is the concatenated heads.

    Found as the last Linear-like module (registration order) inside the
    block's first attention sub-module whose output width is the hidden size:
    GPT-2 ``attn.c_proj``, Llama ``self_attn.o_proj``, BERT
    ``attention.output.dense``, OPT ``out_proj``.  Its input has shape
    ``(..., n_heads * head_dim)`` with head ``h`` in columns
    ``h * head_dim:(h + 1) * head_dim``.
    """
    width = hidden_size(model)
    found = []
    for i, block in enumerate(find_blocks(model)):
        roots = _attention_roots(block)
        if not roots:
            raise ValueError(f"Block {i} ({type(block).__name__}) has no attention sub-module.")
        last = None
        for module in roots[0].modules():
            dims = _linear_dims(module)
            if dims and dims[1] == width:
                last = module
        if last is None:
            raise ValueError(
                f"Block {i}: no linear layer with output width {width} in {type(roots[0]).__name__}."
            )
        found.append(last)
    return found


def _first_tensor(args: tuple, kwargs: dict) -> torch.Tensor:
    for value in args:
        if isinstance(value, torch.Tensor):
            return value
    if isinstance(kwargs.get("hidden_states"), torch.Tensor):
        return kwargs["hidden_states"]
    for value in kwargs.values():
        if isinstance(value, torch.Tensor):
            return value
    raise RuntimeError("Hooked module was called without a tensor input.")


def _main_output(output) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    for name in ("last_hidden_state", "hidden_states"):
        value = getattr(output, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise RuntimeError(f"Cannot find a tensor in a module output of type {type(output).__name__}.")


@contextmanager
def capture(
    model: nn.Module,
    modules: Sequence[nn.Module],
    kind: str = "output",
    *,
    detach: bool = True,
) -> Iterator[list[list[torch.Tensor]]]:
    """Record the inputs or outputs of ``modules`` during forward passes.

    Parameters
    ----------
    model : torch.nn.Module
        The model the modules belong to (kept for symmetry and error messages).
    modules : sequence of torch.nn.Module
        Modules to hook.
    kind : {"output", "input"} or sequence of those
        What to record, for all modules or per module: the module's (first)
        output tensor, or its first tensor input (``hidden_states``).
    detach : bool
        Detach recorded tensors from the autograd graph.

    Yields
    ------
    records : list of list of torch.Tensor
        ``records[i]`` gets one tensor appended per call of ``modules[i]``.
        Hooks are always removed on exit, also after an exception.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2Model
    >>> model = GPT2Model(GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50)).eval()
    >>> with capture(model, find_blocks(model)) as records:
    ...     _ = model(torch.tensor([[1, 2, 3]]))
    >>> [tuple(r[0].shape) for r in records]
    [(1, 3, 16), (1, 3, 16)]
    """
    modules = list(modules)
    kinds = [kind] * len(modules) if isinstance(kind, str) else list(kind)
    if len(kinds) != len(modules):
        raise ValueError(f"Got {len(kinds)} kinds for {len(modules)} modules.")
    bad = sorted({k for k in kinds if k not in ("output", "input")})
    if bad:
        raise ValueError(f"kind must be 'output' or 'input', got {bad}.")
    records: list[list[torch.Tensor]] = [[] for _ in modules]
    handles = []

    def make_hook(index: int, what: str):
        def hook(module, args, kwargs, output):
            tensor = _main_output(output) if what == "output" else _first_tensor(args, kwargs)
            records[index].append(tensor.detach() if detach else tensor)

        return hook

    try:
        for i, (module, what) in enumerate(zip(modules, kinds)):
            handles.append(module.register_forward_hook(make_hook(i, what), with_kwargs=True))
        yield records
    finally:
        for handle in handles:
            handle.remove()
