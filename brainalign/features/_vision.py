"""Layerwise features of image models (ViT, CLIP, ConvNeXt, ResNet, ...) for images and video frames.

Every hidden state a ``transformers`` vision model returns with
``output_hidden_states=True`` becomes one layer: ``"embeddings"`` (the patch
embeddings or stem output), then ``"layer.0"``, ``"layer.1"``, ... (the output
of each block, or of each stage for convolutional networks).  Each layer is
pooled to one vector per image.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._logging import progress_disabled
from ..core import BrainalignInputError, FeatureSet, Timeline, content_key, hash_array, hash_file
from ._loading import load_model_and_processor, prepare_model, resolve_device, resolve_dtype
from ._store import FeatureStore

logger = logging.getLogger("brainalign.features")

#: Pooling rules for :func:`extract_image_features`.
POOLINGS = ("auto", "cls", "mean", "spatial_mean")

# Bumped whenever a change alters the numbers these extractors produce, so old caches are not reused.
_EXTRACTOR_VERSION = 1

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


def _json_text(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _config_dict(obj) -> dict:
    """A processor's or config's settings without the fields that only record library versions."""
    settings = obj.to_dict() if hasattr(obj, "to_dict") else dict(vars(obj))
    return {k: v for k, v in settings.items() if k not in ("transformers_version", "_commit_hash")}


def _model_fingerprint(spec, net, revision) -> dict:
    """What identifies a model's weights in a cache key.

    A hub id is identified by id and revision (pin ``revision`` to a commit for
    caches that cannot go stale), a local folder by the bytes of its files, and
    an in-memory model by a hash of its configuration and every parameter.
    """
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            return {"local_dir_files": {str(p.relative_to(path)): hash_file(p) for p in files}}
        return {"hub_id": str(spec), "revision": revision or "main"}
    import torch

    digest = hashlib.sha256()
    digest.update(type(net).__name__.encode())
    digest.update(_json_text(_config_dict(net.config)).encode())
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return {"weights_sha256": digest.hexdigest()}


def _model_id(spec, net) -> str:
    if isinstance(spec, (str, os.PathLike)):
        return str(spec)
    name = getattr(net, "name_or_path", "") or getattr(net.config, "_name_or_path", "")
    return str(name) if name else f"{type(net).__name__} (in memory)"


def _open_cache(cache_dir, extractor: str, model_id: str, revision, stimulus_hash: str, params):
    """``(store, key, cached FeatureSet or None)``; ``(None, None, None)`` without ``cache_dir``.

    ``params()`` returns the settings that enter the key; it is only called
    with a ``cache_dir`` because fingerprinting a model's weights takes time.

    Entries live in a :class:`~brainalign.features.FeatureStore` under a
    content key of the model, the stimulus and every setting that changes
    the numbers.  A hit is marked ``metadata["cache_hit"] = True``.
    """
    if cache_dir is None:
        return None, None, None
    store = FeatureStore(cache_dir)
    key = FeatureStore.make_key(
        model_id=model_id,
        revision=revision,
        stimulus_hash=stimulus_hash,
        params={"extractor": extractor, "code": _EXTRACTOR_VERSION, **params()},
    )
    cached = store.get(key)
    if cached is not None:
        logger.info("Loaded cached %s features %s from %s.", extractor, key, cache_dir)
        cached.metadata["cache_hit"] = True
    return store, key, cached


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


def _pool(hidden, pooling: str, n_prefix: int):
    """One vector per image from a (B, N, D) token sequence or a (B, C, H, W) feature map."""
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
            "device": str(self.device),
            "dtype": str(self.param_dtype).replace("torch.", ""),
            "model_class": type(self.net).__name__,
            "processor": type(self.processor).__name__,
            "layers_available": valid,
        }


def _batches(n: int, batch_size) -> list[np.ndarray]:
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise BrainalignInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return [np.arange(s, min(s + batch_size, n)) for s in range(0, n, int(batch_size))]


def _extract_rows(images, event_image, runner, batch_size, timeline, metadata, store, key, desc) -> FeatureSet:
    """Features of ``images`` spread onto timeline rows (``event_image[row]`` is the row's image).

    With a store, each batch is written as one resumable chunk holding the
    rows of its images; an interrupted run restarts at the first missing batch.
    """
    from tqdm.auto import tqdm

    batches = _batches(len(images), batch_size)
    first = runner([images[i] for i in batches[0]])  # fixes layers / pooling before anything is written
    metadata = {**metadata, **runner.info}
    rows_of = [np.flatnonzero(np.isin(event_image, batch)) for batch in batches]

    def spread(features, batch, rows):
        return {name: arr[event_image[rows] - batch[0]] for name, arr in features.items()}

    writer, done, out = None, set(), None
    if store is not None:
        writer = store.writer(key, timeline, n_chunks=len(batches), metadata=metadata)
        done = writer.completed_chunks()
        if done:
            logger.info("Resuming %s: %d of %d batches already stored.", key, len(done), len(batches))
    todo = [k for k in range(len(batches)) if k not in done]
    try:
        for k in tqdm(todo, desc=desc, unit="batch", disable=progress_disabled() or len(todo) < 2):
            features = first if k == 0 else runner([images[i] for i in batches[k]])
            part = spread(features, batches[k], rows_of[k])
            if writer is not None:
                writer.write_chunk(k, rows_of[k], part)
                continue
            if out is None:
                out = {n: np.empty((timeline.n_events, a.shape[1]), dtype=np.float32) for n, a in part.items()}
            for name, arr in part.items():
                out[name][rows_of[k]] = arr
    except BaseException:
        if writer is not None:
            writer.close()  # release the key's lock now, not when the traceback is dropped
        raise
    if writer is not None:
        return writer.finalize()
    return FeatureSet(out, timeline, metadata)


def _image_model_features(images, event_image, events, stimulus_hash, modality, metadata, *, model, processor,
                          layers, pooling, batch_size, device, dtype, revision, cache_dir) -> FeatureSet:
    """Load the image model, then return the cached features or compute them (image and video extraction)."""
    torch_dtype = resolve_dtype(dtype)
    net, processor = load_model_and_processor(
        model, processor, revision=revision, dtype=torch_dtype, processor_class="AutoImageProcessor",
        kind="image model", processor_arg="processor",
        processor_help="(its image processor, e.g. ViTImageProcessor(size=..., image_mean=..., image_std=...)) "
        "so that images are resized and normalised the way the model expects",
    )
    model_id = _model_id(model, net)
    store, key, cached = _open_cache(cache_dir, modality, model_id, revision, stimulus_hash, lambda: {
        "model": _model_fingerprint(model, net, revision),
        "processor": _config_dict(processor),
        "layers": _layers_key(layers),
        "pooling": pooling,
        "dtype": None if torch_dtype is None else str(torch_dtype),
    })
    if cached is not None:
        return cached
    runner = _ImageRunner(net, processor, layers, pooling, device, torch_dtype)
    metadata = {"model_id": model_id, "revision": revision, "modality": modality, **metadata}
    return _extract_rows(images, event_image, runner, batch_size, events, metadata, store, key,
                         f"{modality} batches")


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
    pooling : {"auto", "cls", "mean", "spatial_mean"}
        How a layer becomes one vector per image: ``"cls"`` takes the class
        token, ``"mean"`` averages all tokens (class token included),
        ``"spatial_mean"`` averages the spatial positions only (patch tokens,
        or the height x width of a convolutional feature map).  ``"auto"`` is
        ``"cls"`` for models with a class token and ``"spatial_mean"``
        otherwise.  The rule used is stored in ``metadata["pooling"]``.
    timeline : Timeline, array-like of float or None
        When each image was shown.  ``None`` makes one event per image at
        onsets 0, 1, 2, ... s with the file names (or ``"image-<i>"``) as tokens;
        an array gives the onsets.
    batch_size : int
        Images per forward pass.
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
    stimulus = content_key({"images": [hash_array(a) for a in arrays], "timeline": events.content_hash})
    return _image_model_features(
        arrays, np.arange(len(arrays)), events, stimulus, "image", {"n_images": len(arrays)}, model=model,
        processor=processor, layers=layers, pooling=pooling, batch_size=batch_size, device=device, dtype=dtype,
        revision=revision, cache_dir=cache_dir,
    )


def extract_video_features(
    frames,
    fps: float,
    model,
    *,
    times=None,
    layers=None,
    pooling: str = "auto",
    batch_size: int = 16,
    device="auto",
    dtype=None,
    revision: str | None = None,
    processor=None,
    run: str | None = None,
    cache_dir=None,
) -> FeatureSet:
    """Layerwise image-model features of video frames sampled on a time grid.

    The frame shown at time ``t`` is frame ``floor(t * fps)`` (frame ``k`` is
    on screen during ``[k / fps, (k + 1) / fps)``).  Each distinct frame is
    run through the model once.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, H, W, 3)
        Decoded RGB frames, ``uint8`` or float in [0, 1].  Video files are not
        read here (no video decoder is a brainalign dependency): decode them
        first, e.g. with PyAV or imageio, and pass the array and its ``fps``.
    fps : float
        Frames per second of ``frames``.
    model : str, path or transformers model
        As in :func:`extract_image_features`.
    times : array-like of float or None
        Increasing times in seconds, within ``[0, n_frames / fps)``, at which to
        sample the video; ``None`` keeps every frame.
    layers, pooling, batch_size, device, dtype, revision, processor, cache_dir
        As in :func:`extract_image_features`.
    run : str or None
        Run label of the timeline.

    Returns
    -------
    FeatureSet
        One row per time in ``times``; the timeline's onsets are ``times`` and
        its tokens ``"frame-<k>"``.  ``metadata["frame_index"]`` lists ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from transformers import ConvNextConfig, ConvNextModel, ConvNextImageProcessor
    >>> net = ConvNextModel(ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2))
    >>> proc = ConvNextImageProcessor(size={"shortest_edge": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    >>> video = np.random.default_rng(0).integers(0, 256, (50, 36, 36, 3), dtype=np.uint8)  # 2 s at 25 fps
    >>> fs = extract_video_features(video, 25.0, net, times=[0.0, 0.5, 1.0, 1.5], processor=proc, device="cpu")
    >>> fs.metadata["frame_index"], fs["layer.1"].shape
    ([0, 12, 25, 37], (4, 16))
    """
    if isinstance(frames, (str, os.PathLike)):
        raise BrainalignInputError(
            f"Reading video files ({str(frames)!r}) is not supported: no video decoder is a brainalign "
            "dependency.  Decode the frames first (e.g. with PyAV or imageio) into an array "
            "(n_frames, H, W, 3) and pass it with its fps."
        )
    frames = np.asarray(frames) if not isinstance(frames, np.ndarray) else frames
    _check_pixel_array(frames, "frames", batch=True)
    fps = float(fps)
    if not (np.isfinite(fps) and fps > 0):
        raise BrainalignInputError(f"fps must be a positive number, got {fps!r}.")
    n_frames = frames.shape[0]
    duration = n_frames / fps
    if times is None:
        grid = np.arange(n_frames, dtype=float) / fps
    else:
        grid = np.asarray(times, dtype=float)
        if grid.ndim != 1 or grid.size == 0:
            raise BrainalignInputError(f"times must be a non-empty 1-D array of seconds, got shape {grid.shape}.")
        if not np.isfinite(grid).all():
            raise BrainalignInputError("times contains NaN or inf.")
        outside = (grid < 0) | (grid >= duration)
        if outside.any():
            raise BrainalignInputError(
                f"{int(outside.sum())} time(s) fall outside the video (0 to {duration:g} s, "
                f"{n_frames} frames at {fps:g} fps), e.g. {grid[outside][:3].tolist()}."
            )
        if np.any(np.diff(grid) < 0):
            raise BrainalignInputError("times must be non-decreasing.")
    # The small epsilon keeps t = k / fps on frame k despite floating-point error.
    frame_index = np.minimum(np.floor(grid * fps + 1e-9).astype(int), n_frames - 1)
    unique, inverse = np.unique(frame_index, return_inverse=True)
    _check_pooling_name(pooling)
    events = Timeline([f"frame-{k}" for k in frame_index], grid, runs=run)
    stimulus = content_key({"frames": [hash_array(frames[k]) for k in unique], "timeline": events.content_hash})
    metadata = {"fps": fps, "n_frames": int(n_frames), "frame_index": [int(k) for k in frame_index]}
    return _image_model_features(
        [frames[k] for k in unique], inverse, events, stimulus, "video", metadata, model=model,
        processor=processor, layers=layers, pooling=pooling, batch_size=batch_size, device=device, dtype=dtype,
        revision=revision, cache_dir=cache_dir,
    )
