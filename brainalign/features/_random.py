"""Small random-weight language models saved as real model folders, for offline tests, tutorials and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

from ..core import BrainalignInputError, content_key

#: Written last into a random model's folder: its settings and its config-derived id.
RANDOM_MODEL_STAMP = "brainalign_random_model.json"


def random_model_id(settings: dict) -> str:
    """Identity of a random-weight model from its settings alone (not from the folder it was saved in).

    Feature-cache keys use it instead of the folder path, so two studies that
    build the same random model (architecture, sizes, seed) reuse each other's
    features, and a model folder that was cleaned away is rebuilt bit for bit
    by :func:`make_random_text_model` from the same settings.

    Examples
    --------
    >>> random_model_id({"architecture": "gpt2", "n_layers": 2, "hidden_size": 64, "seed": 0})[:24]
    'random:gpt2-L2-H64-seed0'
    """
    head = (f"random:{settings.get('architecture', 'gpt2')}-L{settings.get('n_layers')}"
            f"-H{settings.get('hidden_size')}-seed{settings.get('seed')}")
    return f"{head}-{content_key(dict(settings))[:12]}"


def stamped_model_id(folder: str | os.PathLike) -> str | None:
    """The config-derived id of a folder made by :func:`make_random_text_model`, else None."""
    import json

    stamp = Path(folder) / RANDOM_MODEL_STAMP
    if not stamp.is_file():
        return None
    try:
        return random_model_id(json.loads(stamp.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def make_random_text_model(folder: str | os.PathLike, *, architecture: str = "gpt2", n_layers: int = 2,
                           hidden_size: int = 64, n_heads: int = 4, max_positions: int = 256,
                           vocab_size: int = 500, training_text=None, seed: int = 0) -> Path:
    """Save a randomly initialised causal LM (and a byte-level BPE tokenizer) that ``from_pretrained`` loads.

    No download: the tokenizer is trained here on ``training_text`` (default:
    the two demo stories) and the weights are random (seeded), so the folder
    is a stand-in for a hub model wherever a real architecture is needed
    offline.  An existing folder with the same settings is reused.

    The result depends on the settings only: building it again (in another
    folder, or after ``brainalign cache clean``) gives bit-identical files,
    and its features are cached under :func:`random_model_id`, not under the
    folder's path, so nothing about the folder needs protecting.

    Examples
    --------
    >>> import tempfile
    >>> path = make_random_text_model(tempfile.mkdtemp(), n_layers=2, hidden_size=32)
    >>> sorted(p.name for p in path.iterdir() if p.suffix == ".json")[:3]
    ['brainalign_random_model.json', 'config.json', 'generation_config.json']
    """
    import json

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    settings = {"architecture": architecture, "n_layers": n_layers, "hidden_size": hidden_size, "n_heads": n_heads,
                "max_positions": max_positions, "vocab_size": vocab_size, "seed": seed,
                "training_text": None if training_text is None else len(list(training_text))}
    stamp = folder / RANDOM_MODEL_STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == settings:
        return folder
    if training_text is None:
        from importlib import resources

        data = resources.files("brainalign").joinpath("data")
        training_text = [data.joinpath(name).read_text(encoding="utf-8")
                         for name in ("story_lighthouse.txt", "story_orchard.txt")]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "<pad>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(training_text), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", pad_token="<pad>", eos_token="<pad>")
    torch.manual_seed(seed)
    if architecture == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        cfg = GPT2Config(n_layer=n_layers, n_embd=hidden_size, n_head=n_heads, vocab_size=len(tokenizer),
                         n_positions=max_positions, bos_token_id=0, eos_token_id=1, pad_token_id=1)
        model = GPT2LMHeadModel(cfg)
    elif architecture == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(num_hidden_layers=n_layers, hidden_size=hidden_size, num_attention_heads=n_heads,
                          num_key_value_heads=n_heads, intermediate_size=2 * hidden_size,
                          vocab_size=len(tokenizer), max_position_embeddings=max_positions,
                          bos_token_id=0, eos_token_id=1, pad_token_id=1)
        model = LlamaForCausalLM(cfg)
    else:
        raise BrainalignInputError(f"architecture must be 'gpt2' or 'llama', got {architecture!r}.")
    from .._logging import quiet_transformers

    quiet_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    stamp.write_text(json.dumps(settings))
    return folder


#: Written last into a random-init copy's folder: the source model's identity and the seed.
RANDOM_INIT_STAMP = "brainalign_random_init.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt", ".onnx", ".gguf")


def _local_model_folder(name: str) -> Path:
    """A local folder holding the model's config and processor files (a hub id only from the local HF cache)."""
    from ._loading import resolve_model_name

    name = str(resolve_model_name(name))
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        # configs and processor files only: the random copy needs no trained weights
        return Path(snapshot_download(name, local_files_only=True,
                                      ignore_patterns=[f"*{s}" for s in _WEIGHT_SUFFIXES]))
    except Exception as err:  # offline, not cached, not a hub id: one message naming the model
        raise BrainalignInputError(
            f"Cannot build a random-init copy of {name!r}: it is not a local folder and not in the local "
            f"Hugging Face cache ({type(err).__name__}). Give a local model folder (or download it once)."
        ) from None


def make_random_init_model(source: str | os.PathLike, folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Save the architecture of ``source`` with freshly initialised (untrained) weights into ``folder``.

    The trained-vs-untrained control of any model family (text, vision,
    audio, multimodal): the configuration and every processor / tokenizer
    file are those of ``source``, so the inputs are identical, and only the
    weights are drawn again, as ``transformers`` initialises them, under
    ``torch.manual_seed(seed)``.  The folder loads with ``from_pretrained``
    like the original; an existing copy with the same source and seed is
    reused (the stamp is written last, so an interrupted build is redone).

    Parameters
    ----------
    source : str or Path
        Local model folder, ``"bundled:all-MiniLM-L6-v2"``, or a hub id present in the local cache.
    folder : str or Path
        Where to save the copy.
    seed : int
        Seed of the initialisation: the same seed gives the same weights.

    Examples
    --------
    >>> import tempfile
    >>> from brainalign.features import bundled_model_dir
    >>> copy = make_random_init_model("bundled:all-MiniLM-L6-v2", tempfile.mkdtemp(), seed=0)
    >>> sorted(p.name for p in copy.iterdir() if p.name.startswith("tokenizer"))[:1]
    ['tokenizer.json']
    """
    import json
    import shutil

    import transformers

    from .._logging import quiet_transformers
    from ._loading import seeded_torch

    src = _local_model_folder(str(source))
    if not (src / "config.json").is_file():
        raise BrainalignInputError(f"Cannot build a random-init copy of {str(source)!r}: {src} has no config.json.")
    config_text = (src / "config.json").read_text()
    identity = {"source": str(src.resolve()), "config": content_key(json.loads(config_text)), "seed": int(seed)}
    folder = Path(folder)
    stamp = folder / RANDOM_INIT_STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == identity:
        return folder
    quiet_transformers()
    config = transformers.AutoConfig.from_pretrained(src)
    with seeded_torch(int(seed)):  # the same draw as extract_*(weights="random", init_seed=seed)
        net = transformers.AutoModel.from_config(config)
    folder.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():  # tokenizer / processor files: everything but the trained weights
        if item.is_file() and not item.name.endswith(_WEIGHT_SUFFIXES) and not item.name.endswith(".index.json") \
                and item.name not in ("config.json", RANDOM_MODEL_STAMP, RANDOM_INIT_STAMP):
            shutil.copy2(item, folder / item.name)
    net.save_pretrained(folder)
    stamp.write_text(json.dumps(identity))
    return folder
