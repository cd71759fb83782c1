"""Loading transformers models and putting them on a device: shared by the text, image and speech extractors."""

from __future__ import annotations

import os

from .._logging import quiet_transformers
from ..core import BrainalignInputError

# Names accepted for torch dtypes (lower case, without a "torch." prefix).
_DTYPE_NAMES = {
    "float32": "float32", "fp32": "float32", "float": "float32",
    "float16": "float16", "fp16": "float16", "half": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
}


def resolve_device(device):
    """``"auto"`` (or ``None``) -> CUDA if available, else Apple MPS, else CPU; else ``torch.device(device)``."""
    import torch

    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise BrainalignInputError(
            f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:1', 'mps' or a torch.device."
        ) from err


def resolve_dtype(dtype, none_means: str = "the model's own dtype"):
    """A torch dtype from a torch dtype or a name such as ``"bfloat16"``; ``None`` stays ``None``.

    ``none_means`` says, in the error message, what the caller does with ``None``.
    """
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = str(dtype).replace("torch.", "").lower()
    if name not in _DTYPE_NAMES:
        raise BrainalignInputError(
            f"Unknown dtype {dtype!r}; use None ({none_means}), one of {sorted(_DTYPE_NAMES)} or a torch.dtype."
        )
    return getattr(torch, _DTYPE_NAMES[name])


def prepare_model(net, device, dtype):
    """Put the model in eval mode on ``device`` (and ``dtype`` when given); returns it."""
    net.eval()
    if dtype is not None:
        net.to(dtype=dtype)
    net.to(device)
    return net


def from_pretrained(name: str, *, processor_class: str, kind: str, processor=None, revision=None, dtype=None,
                    processor_kwargs: dict | None = None, **kwargs):
    """``(AutoModel, processor)`` loaded from a hub id or local folder.

    ``processor_class`` names the transformers auto class of the input
    processor (``"AutoTokenizer"``, ``"AutoImageProcessor"``, ...); a
    ``processor`` given is kept.  ``kwargs`` go to both ``from_pretrained``
    calls.  Loading errors become a :class:`BrainalignInputError` naming
    ``kind`` (e.g. ``"image model"``), the model and the revision.
    """
    import transformers

    try:
        quiet_transformers()
        if processor is None:
            processor = getattr(transformers, processor_class).from_pretrained(
                name, revision=revision, **(processor_kwargs or {}), **kwargs
            )
        net = transformers.AutoModel.from_pretrained(name, revision=revision, dtype=dtype, **kwargs)
    except OSError as err:
        raise BrainalignInputError(f"Could not load {kind} {name!r} (revision {revision!r}): {err}") from err
    return net, processor


def load_model_and_processor(model, processor, *, revision, dtype, processor_class: str, kind: str,
                             processor_arg: str, processor_help: str):
    """``(model, processor)`` from a hub id / local folder, or the in-memory model given.

    An in-memory model needs its processor passed as ``processor_arg=``; the
    error then says ``processor_help`` (what to pass and why).
    """
    if isinstance(model, (str, os.PathLike)):
        return from_pretrained(str(model), processor_class=processor_class, kind=kind, processor=processor,
                               revision=revision, dtype=dtype)
    if not hasattr(model, "config") or not callable(model):
        raise BrainalignInputError(
            f"model is a {type(model).__name__}; expected a transformers model, a hub id or a local folder."
        )
    if processor is None:
        raise BrainalignInputError(
            f"An in-memory model ({type(model).__name__}) needs {processor_arg}= {processor_help}."
        )
    return model, processor
