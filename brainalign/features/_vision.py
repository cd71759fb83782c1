"""Layerwise features of image models (ViT, CLIP, ConvNeXt, ResNet, ...) for images (video: ``_video.py``).

Every hidden state a ``transformers`` vision model returns with
``output_hidden_states=True`` becomes one layer: ``"embeddings"`` (the patch
embeddings or stem output), then ``"layer.0"``, ``"layer.1"``, ... (the output
of each block, or of each stage for convolutional networks).  Each layer is
pooled to one vector per image.
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, FeatureSet, Timeline, content_key, hash_array
from ._engine import BatchRunner, extraction_metadata, model_fingerprint, open_cache, run_chunks
from ._loading import load_model_and_processor, prepare_model, resolve_device, resolve_dtype, weights_key

logger = logging.getLogger("brainalign.features")

#: Pooling rules for :func:`extract_image_features`.
POOLINGS = ("auto", "cls", "mean", "spatial_mean", "tokens")

# At most this many tokens (class, distillation, register tokens) may precede the patch tokens.
_MAX_PREFIX_TOKENS = 16


# --------------------------------------------------------------------------- shared helpers
# (also used by _audio.py)


def _layer_names(n_hidden_states: int) -> list[str]:
    """``["embeddings", "layer.0", ...]`` for ``n_hidden_states`` hidden states."""
    return ["embeddings"] + [f"layer.{i}" for i in range(n_hidden_states - 1)]


def _check_layers(layers, valid: Sequence[str]) -> list[str]:
    """The requested layers in model order, or all of them; unknown names raise listing the valid ones."""
    if layers is None:
        return list(valid)
    requested = [layers] if isinstance(layers, str) else list(layers)
    if not requested:
        raise BrainalignInputError(f"layers is empty; pick some of {list(valid)} or pass None for all.")
    not_str = [x for x in requested if not isinstance(x, str)]
    if not_str:
        raise BrainalignInputError(
            f"Layers are selected by name, got {not_str!r}; valid layers are {list(valid)}."
        )
    unknown = [x for x in requested if x not in valid]
    if unknown:
        raise BrainalignInputError(f"Unknown layer name(s) {unknown}; valid layers are {list(valid)}.")
    wanted = set(requested)
    return [name for name in valid if name in wanted]


def _config_dict(obj) -> dict:
    """A processor's or config's settings without the fields that only record library versions."""
    settings = obj.to_dict() if hasattr(obj, "to_dict") else dict(vars(obj))
    return {k: v for k, v in settings.items() if k not in ("transformers_version", "_commit_hash")}


def _model_id(spec, net) -> str:
    if isinstance(spec, (str, os.PathLike)):
        return str(spec)
    name = getattr(net, "name_or_path", "") or getattr(net.config, "_name_or_path", "")
    return str(name) if name else f"{type(net).__name__} (in memory)"


# --------------------------------------------------------------------------- image input

def _as_rgb_array(image, where: str) -> np.ndarray:
    """One image as (H, W, 3) uint8 or float in [0, 1]; anything else raises naming ``where``."""
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise BrainalignInputError(f"{where}: image file {str(path)!r} does not exist.")
        with Image.open(path) as img:
            img.load()
            return _pil_to_rgb(img, f"{where} ({path.name})")
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image, where)
    if isinstance(image, np.ndarray):
        _check_pixel_array(image, where, batch=False)
        return image
    raise BrainalignInputError(
        f"{where} is a {type(image).__name__}; expected an image file path, a PIL image or an "
        "(H, W, 3) array."
    )


def _pil_to_rgb(img, where: str) -> np.ndarray:
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    )
    if has_alpha:
        raise BrainalignInputError(
            f"{where} has an alpha channel (mode {img.mode!r}); dropping it would expose whatever "
            "lies under the transparent pixels.  Composite it on a background first, e.g. "
            "Image.alpha_composite(Image.new('RGBA', img.size, 'white'), img.convert('RGBA')).convert('RGB')."
        )
    if img.mode != "RGB":
        logger.info("%s has mode %r; converting it to RGB.", where, img.mode)
        img = img.convert("RGB")
    return np.asarray(img)


def _check_pixel_array(arr: np.ndarray, where: str, batch: bool) -> None:
    """Shape (…, H, W, 3) and dtype uint8, or float within [0, 1]; clear errors otherwise."""
    expected = "(n_images, height, width, 3)" if batch else "(height, width, 3)"
    spatial_ndim = 4 if batch else 3
    if arr.ndim == spatial_ndim - 1 and not batch:
        raise BrainalignInputError(
            f"{where} has shape {arr.shape}: a grayscale image without a channel axis; expected "
            f"{expected}.  Repeat it to RGB with np.repeat(image[..., None], 3, axis=-1)."
        )
    if arr.ndim != spatial_ndim:
        hint = ""
        if batch and arr.ndim == 3:
            hint = (
                "  A 3-D array is ambiguous: pass one RGB image as images[None] (or in a list), "
                "or repeat grayscale images (n, H, W) to 3 channels with np.repeat(images[..., None], 3, axis=-1)."
            )
        raise BrainalignInputError(f"{where} has shape {arr.shape}; expected {expected}.{hint}")
    channels = arr.shape[-1]
    if channels != 3:
        if channels == 4:
            hint = (
                "It looks like RGBA: composite it on a background, or drop alpha with [..., :3] "
                "if alpha is all opaque."
            )
        elif channels == 1:
            hint = "It looks like grayscale: repeat it to RGB with np.repeat(images, 3, axis=-1)."
        elif arr.shape[-3] == 3:
            hint = "It looks channels-first: move the channel axis last with np.moveaxis(images, -3, -1)."
        else:
            hint = ""
        raise BrainalignInputError(
            f"{where} has shape {arr.shape} with {channels} channels in the last axis; expected "
            f"{expected} (RGB, channels last).  {hint}".rstrip()
        )
    if arr.shape[-2] == 0 or arr.shape[-3] == 0 or (batch and arr.shape[0] == 0):
        raise BrainalignInputError(f"{where} has shape {arr.shape}, which holds no pixels.")
    if arr.dtype == np.uint8:
        return
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise BrainalignInputError(f"{where} contains NaN or inf pixel values.")
        low, high = float(arr.min()), float(arr.max())
        if low < 0.0 or high > 1.0:
            raise BrainalignInputError(
                f"{where} is a float array with values in [{low:g}, {high:g}]; float images must lie "
                "in [0, 1].  For 0-255 values pass them as uint8 (images.astype(np.uint8)) or divide by 255."
            )
        return
    raise BrainalignInputError(
        f"{where} has dtype {arr.dtype}; expected uint8 (0-255) or float in [0, 1]."
    )


def _read_images(images) -> tuple[list[np.ndarray], list[str]]:
    """Validate and decode ``images`` into RGB arrays plus a default token per image."""
    if isinstance(images, np.ndarray):
        _check_pixel_array(images, "images", batch=True)
        return list(images), [f"image-{i}" for i in range(images.shape[0])]
    if isinstance(images, (str, os.PathLike)):
        raise BrainalignInputError(
            f"images is a single path {str(images)!r}; pass a list of image paths (e.g. [path])."
        )
    try:
        items = list(images)
    except TypeError:
        raise BrainalignInputError(
            f"images is a {type(images).__name__}; expected a list of image paths, a list of PIL "
            "images or an array (n_images, H, W, 3)."
        ) from None
    if not items:
        raise BrainalignInputError("images is empty; there is nothing to extract features from.")
    arrays, tokens = [], []
    for i, item in enumerate(items):
        arrays.append(_as_rgb_array(item, f"images[{i}]"))
        if isinstance(item, (str, os.PathLike)):
            tokens.append(Path(item).name)
        else:
            filename = getattr(item, "filename", "")
            tokens.append(Path(filename).name if filename else f"image-{i}")
    return arrays, tokens


def _as_float_if_mixed(arrays: list[np.ndarray]) -> tuple[list[np.ndarray], bool]:
    """All uint8 -> unchanged; any float -> every image as float32 in [0, 1] (``True``)."""
    if all(a.dtype == np.uint8 for a in arrays):
        return arrays, False
    return [a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32) for a in arrays], True


def _image_timeline(timeline, tokens: list[str], run) -> Timeline:
    n = len(tokens)
    if timeline is None:
        return Timeline(tokens, np.arange(n, dtype=float), runs=run)
    if isinstance(timeline, Timeline):
        if timeline.n_events != n:
            raise BrainalignInputError(
                f"timeline has {timeline.n_events} events but {n} images were given; they must match one to one."
            )
        return timeline
    onsets = np.asarray(timeline, dtype=float)
    if onsets.ndim != 1 or onsets.size != n:
        raise BrainalignInputError(
            f"timeline must be a Timeline or {n} onsets (one per image), got shape {onsets.shape}."
        )
    return Timeline(tokens, onsets, runs=run)


# --------------------------------------------------------------------------- models

def _vision_tower(net):
    """The module that maps pixels to hidden states (the vision tower of CLIP-like models)."""
    tower = getattr(net, "vision_model", None)
    tower = tower if tower is not None else net
    params = inspect.signature(tower.forward).parameters
    if "pixel_values" not in params:
        raise BrainalignInputError(
            f"{type(net).__name__} does not take images (its forward has no pixel_values argument); "
            "use an image model such as ViT, CLIP, ConvNeXt or ResNet."
        )
    return tower


def _n_prefix_tokens(config, n_tokens: int, pixel_shape) -> int:
    """How many tokens (class, distillation, registers) precede the patch tokens, 0 if none."""
    patch = getattr(config, "patch_size", None)
    if patch is None:
        return 0
    ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)[:2]
    n_patches = (pixel_shape[-2] // ph) * (pixel_shape[-1] // pw)
    extra = n_tokens - n_patches
    return extra if 0 < extra <= _MAX_PREFIX_TOKENS else 0


def _resolve_pooling(pooling: str, hidden, n_prefix: int, model_name: str) -> str:
    _check_pooling_name(pooling)
    has_cls = hidden.ndim == 3 and n_prefix > 0
    if pooling == "auto":
        return "cls" if has_cls else "spatial_mean"
    if pooling == "cls" and not has_cls:
        what = (
            "(channels, height, width) feature maps" if hidden.ndim == 4 else "patch tokens without a class token"
        )
        raise BrainalignInputError(
            f"pooling='cls' needs a class token, but {model_name} produces {what}; "
            "use pooling='spatial_mean' or 'mean'."
        )
    return pooling


def _token_grid(hidden, n_prefix: int, input_size) -> list[int]:
    """(H, W, C) of a layer's spatial tokens: the feature map's, or the patch grid of a token sequence."""
    if hidden.ndim == 4:
        return [int(hidden.shape[2]), int(hidden.shape[3]), int(hidden.shape[1])]
    n = int(hidden.shape[1]) - n_prefix
    ratio = input_size[1] / input_size[0]
    h = max(1, int(round((n / ratio) ** 0.5)))
    if n % h:
        raise BrainalignInputError(f"Cannot lay {n} patch tokens on a grid for an input of {input_size}.")
    return [h, n // h, int(hidden.shape[2])]


def _pool(hidden, pooling: str, n_prefix: int):
    """One vector per image from a (B, N, D) token sequence or a (B, C, H, W) feature map."""
    if pooling == "tokens":
        # unpooled patch tokens, flattened token-major (row-major grid): column = token * C + channel
        tokens = hidden.permute(0, 2, 3, 1) if hidden.ndim == 4 else hidden[:, n_prefix:]
        return tokens.reshape(tokens.shape[0], -1)
    if hidden.ndim == 4:
        return hidden.mean(dim=(2, 3))
    if hidden.ndim != 3:
        raise BrainalignInputError(f"Cannot pool a hidden state of shape {tuple(hidden.shape)}.")
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        return hidden.mean(dim=1)
    return hidden[:, n_prefix:].mean(dim=1)


class _ImageRunner:
    """Runs batches of images through a vision model and pools the selected layers.

    The first batch fixes the valid layer names, the pooling rule and the
    number of prefix tokens; :attr:`info` describes them for the metadata.
    """

    def __init__(self, net, processor, layers, pooling, device, dtype):
        self.device = resolve_device(device)
        self.net = prepare_model(net, self.device, dtype)
        self.tower = _vision_tower(self.net)
        self.processor = processor
        self.layers = layers
        self.pooling = pooling
        self.param_dtype = next(self.net.parameters()).dtype
        self.info: dict | None = None

    def __call__(self, images: list[np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        images, is_float = _as_float_if_mixed(images)
        extra = {"do_rescale": False} if is_float else {}
        pixels = self.processor(images=images, return_tensors="pt", input_data_format="channels_last", **extra)
        pixel_values = pixels["pixel_values"].to(device=self.device, dtype=self.param_dtype)
        with torch.inference_mode():
            hidden_states = self.tower(pixel_values=pixel_values, output_hidden_states=True).hidden_states
        if not hidden_states:
            raise BrainalignInputError(
                f"{type(self.net).__name__} returned no hidden states, so it has no layers to extract."
            )
        if self.info is None:
            self._settle(hidden_states, pixel_values.shape)
        index = {name: i for i, name in enumerate(self.info["layers_available"])}
        return {
            name: _pool(hidden_states[index[name]], self.info["pooling"], self.info["n_prefix_tokens"])
            .float().cpu().numpy()
            for name in self.selected
        }

    def _settle(self, hidden_states, pixel_shape) -> None:
        valid = _layer_names(len(hidden_states))
        self.selected = _check_layers(self.layers, valid)
        last = hidden_states[-1]
        config = getattr(self.tower, "config", None) or getattr(self.net.config, "vision_config", self.net.config)
        n_prefix = _n_prefix_tokens(config, last.shape[1], pixel_shape) if last.ndim == 3 else 0
        self.info = {
            "pooling": _resolve_pooling(self.pooling, last, n_prefix, type(self.net).__name__),
            "n_prefix_tokens": int(n_prefix),
            "input_size": [int(x) for x in pixel_shape[-2:]],
            "processor": type(self.processor).__name__,
            "layers_available": valid,
        }
        if self.info["pooling"] == "tokens":
            index = {name: i for i, name in enumerate(valid)}
            self.info["token_grids"] = {name: _token_grid(hidden_states[index[name]], n_prefix, pixel_shape[-2:])
                                        for name in self.selected}


def load_image_model(model, processor, revision, dtype, what: str = "images", weights: str = "pretrained",
                     init_seed: int = 0):
    """(model, processor, torch dtype) of an image model, with the processor-help message for ``what``."""
    torch_dtype = resolve_dtype(dtype)
    net, processor = load_model_and_processor(
        model, processor, revision=revision, dtype=torch_dtype, processor_class="AutoImageProcessor",
        kind="image model", processor_arg="processor", weights=weights, init_seed=init_seed,
        processor_help="(its image processor, e.g. ViTImageProcessor(size=..., image_mean=..., image_std=...)) "
        f"so that {what} are resized and normalised the way the model expects",
    )
    return net, processor, torch_dtype


def _image_model_features(arrays, events, stimulus_hash, *, model, processor, layers, pooling, batch_size,
                          chunk_images, device, dtype, revision, cache_dir, storage_dtype, weights,
                          init_seed) -> FeatureSet:
    """Load the image model, then return the cached features or compute them chunk by chunk."""
    runner_batches = BatchRunner(batch_size, what="images")
    net, processor, torch_dtype = load_image_model(model, processor, revision, dtype, "images", weights, init_seed)
    model_id = _model_id(model, net)
    fingerprint = model_fingerprint(net)
    store, key, cached = open_cache(cache_dir, modality="image", model_id=model_id, revision=revision,
                                    stimulus_hash=stimulus_hash, params=lambda: {
        "fingerprint": fingerprint, "processor": _config_dict(processor), "layers": _layers_key(layers),
        "pooling": pooling, "dtype": None if torch_dtype is None else str(torch_dtype),
        "chunk_images": int(chunk_images), "storage_dtype": str(storage_dtype), **weights_key(weights, init_seed),
    })
    if cached is not None:
        return cached
    runner = _ImageRunner(net, processor, layers, pooling, device, torch_dtype)
    runner(arrays[:1])  # fixes the layers and pooling before anything is stored
    chunks = [np.arange(s, min(s + int(chunk_images), len(arrays))) for s in range(0, len(arrays), int(chunk_images))]

    def compute(k):
        parts: dict[str, list] = {}
        for _, feats in runner_batches.run([arrays[i] for i in chunks[k]], runner):
            for name, values in feats.items():
                parts.setdefault(name, []).append(values)
        return chunks[k], {name: np.concatenate(v) for name, v in parts.items()}

    metadata = extraction_metadata(modality="image", model_id=model_id, revision=revision,
                                   model_class=type(net).__name__, model_fingerprint=fingerprint,
                                   device=runner.device, dtype=runner.param_dtype,
                                   n_images=len(arrays), **runner.info,
                                   **{"weights": weights, **weights_key(weights, init_seed)})
    return run_chunks(compute, n_chunks=len(chunks), timeline=events, metadata=metadata, store=store, key=key,
                      layer_names=runner.selected, storage_dtype=str(storage_dtype), desc="images", unit="image",
                      weights=[len(c) for c in chunks])


def _layers_key(layers):
    return None if layers is None else sorted([layers] if isinstance(layers, str) else [str(x) for x in layers])


def _check_pooling_name(pooling) -> None:
    if pooling not in POOLINGS:
        raise BrainalignInputError(f"Unknown pooling {pooling!r}; use one of {list(POOLINGS)}.")


# --------------------------------------------------------------------------- public API

def extract_image_features(
    images,
    model,
    *,
    layers=None,
    pooling: str = "auto",
    timeline=None,
    batch_size: int = 16,
    device="auto",
    dtype=None,
    revision: str | None = None,
    processor=None,
    run: str | None = None,
    cache_dir=None,
    chunk_images: int = 256,
    storage_dtype: str = "float32",
    weights: str = "pretrained",
    init_seed: int = 0,
) -> FeatureSet:
    """Layerwise features of an image model, one row per image.

    Parameters
    ----------
    images : list of path, list of PIL.Image, or ndarray, shape (n_images, H, W, 3)
        The stimuli.  Arrays are RGB, channels last, either ``uint8`` (0-255)
        or float in [0, 1].  Files and PIL images in grayscale or palette mode
        are converted to RGB; images with an alpha channel are refused (the
        colour under transparent pixels is arbitrary).
    model : str, path or transformers model
        A hub id (``"google/vit-base-patch16-224"``, ``"openai/clip-vit-base-patch32"``),
        a local folder saved with ``save_pretrained``, or a loaded model.  For
        CLIP-like models the vision tower is used.
    layers : str or list of str or None
        ``"embeddings"``, ``"layer.0"``, ... (blocks for transformers, stages
        for ConvNeXt / ResNet); ``None`` keeps all.  Unknown names raise an
        error listing the valid ones.
    pooling : {"auto", "cls", "mean", "spatial_mean", "tokens"}
        How a layer becomes one vector per image: ``"cls"`` takes the class
        token, ``"mean"`` averages all tokens (class token included),
        ``"spatial_mean"`` averages the spatial positions only (patch tokens,
        or the height x width of a convolutional feature map), ``"tokens"``
        keeps every patch token (``H x W x C`` values per image, token-major,
        grids in ``metadata["token_grids"]``: the input of
        :class:`brainalign.encoding.AttentionReadoutEncoder`).  ``"auto"`` is
        ``"cls"`` for models with a class token and ``"spatial_mean"``
        otherwise.  The rule used is stored in ``metadata["pooling"]``.
    timeline : Timeline, array-like of float or None
        When each image was shown.  ``None`` makes one event per image at
        onsets 0, 1, 2, ... s with the file names (or ``"image-<i>"``) as tokens;
        an array gives the onsets.
    batch_size : int
        Images per forward pass (halved automatically on out-of-memory errors).
    device : str or torch.device
        ``"auto"`` uses CUDA, then MPS, then CPU.  A model object given is
        moved there, put in eval mode and (with ``dtype``) cast in place.
    dtype : None, str or torch.dtype
        ``None`` keeps the model's dtype; e.g. ``"bfloat16"`` on GPUs.
    revision : str or None
        Hub revision (branch, tag or commit) when ``model`` is a hub id.
    processor : transformers image processor or None
        Required with a model object; loaded with the model from a hub id or folder.
    run : str or None
        Run label of the default timeline.
    cache_dir : path or None
        Store and reuse the result under a content key of images, model
        weights, processor and settings.
    chunk_images : int
        Images per stored chunk (the unit of resumption after a crash).
    storage_dtype : {"float32", "float16"}
    weights : {"pretrained", "random"}
        ``"random"``: the same architecture with weights drawn under
        ``torch.manual_seed(init_seed)`` (the untrained control; the processor
        is unchanged, so the inputs are identical).  In ``metadata["weights"]``
        and the cache key.
    init_seed : int
        Seed of the random weights.

    Returns
    -------
    FeatureSet
        One ``(n_images, n_dims)`` array per layer.

    Examples
    --------
    >>> import numpy as np
    >>> from transformers import ViTConfig, ViTModel, ViTImageProcessor
    >>> vit = ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
    ...                          intermediate_size=64, image_size=32, patch_size=8))
    >>> proc = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    >>> pixels = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    >>> fs = extract_image_features(pixels, vit, processor=proc, device="cpu")
    >>> fs.layer_names, fs["layer.1"].shape, fs.metadata["pooling"]
    (['embeddings', 'layer.0', 'layer.1'], (3, 32), 'cls')
    """
    _check_pooling_name(pooling)
    arrays, tokens = _read_images(images)
    events = _image_timeline(timeline, tokens, run)
    if not isinstance(chunk_images, (int, np.integer)) or chunk_images < 1:
        raise BrainalignInputError(f"chunk_images must be a positive integer, got {chunk_images!r}.")
    # hashing every pixel is only needed for the cache key
    stimulus = None if cache_dir is None else content_key({"images": [hash_array(a) for a in arrays],
                                                           "timeline": events.content_hash})
    return _image_model_features(
        arrays, events, stimulus, model=model, processor=processor, layers=layers, pooling=pooling,
        batch_size=batch_size, chunk_images=chunk_images, device=device, dtype=dtype, revision=revision,
        cache_dir=cache_dir, storage_dtype=storage_dtype, weights=weights, init_seed=init_seed,
    )
