"""Layerwise features of speech models (wav2vec 2.0, HuBERT, WavLM, Whisper encoder) on a time grid.

Long recordings are processed in overlapping chunks.  Chunk starts fall on the
model's frame grid, and each frame is taken from the chunk in which it lies
farthest from an edge: the cut between two chunks is the middle of their
overlap, so every kept frame has at least ``overlap_seconds / 2`` of audio on
either side within its chunk (or the start / end of the recording).
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..core import BrainalignInputError, FeatureSet, Timeline, content_key, hash_array
from ._engine import extraction_metadata, model_fingerprint, open_cache, run_chunks
from ._loading import load_model_and_processor, prepare_model, resolve_device, resolve_dtype, weights_key
from ._timegrid import media_time_grid
from ._vision import _check_layers, _config_dict, _layer_names, _model_id

logger = logging.getLogger("brainalign.features")

#: How :func:`extract_audio_features` maps model frames onto ``times`` / ``frame_rate`` grids.
INTERPOLATIONS = ("linear", "nearest")

# Same constant as transformers' Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm.
_NORM_EPS = 1e-7


# --------------------------------------------------------------------------- audio input

def _read_audio(audio, sfreq, channel) -> tuple[np.ndarray, float, str]:
    """A 1-D float64 signal, its sampling rate and a short description of the source."""
    source = "array"
    if isinstance(audio, (str, os.PathLike)):
        path = Path(audio)
        if not path.is_file():
            raise BrainalignInputError(f"Audio file {str(path)!r} does not exist.")
        data, file_sfreq = _read_audio_file(path)
        if sfreq is not None and abs(float(sfreq) - file_sfreq) > 1e-6:
            raise BrainalignInputError(
                f"sfreq={sfreq} was given but {path.name} is sampled at {file_sfreq:g} Hz; pass sfreq=None "
                "for files."
            )
        sfreq, source = file_sfreq, path.name
    else:
        data = np.asarray(audio)
        if sfreq is None:
            raise BrainalignInputError("sfreq (the sampling rate in Hz) is required for an audio array.")
        if data.dtype.kind in "iub":
            raise BrainalignInputError(
                f"audio has dtype {data.dtype}; pass float samples in [-1, 1] (e.g. int16 audio / 32768)."
            )
        if not np.issubdtype(data.dtype, np.floating):
            raise BrainalignInputError(f"audio has dtype {data.dtype}; expected a float array of samples.")
    sfreq = float(sfreq)
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise BrainalignInputError(f"sfreq must be a positive number of Hz, got {sfreq!r}.")
    data = _pick_channel(data, channel, source)
    if data.size == 0:
        raise BrainalignInputError(f"The audio ({source}) is empty.")
    if not np.isfinite(data).all():
        raise BrainalignInputError(f"The audio ({source}) contains NaN or inf samples.")
    return data.astype(np.float64, copy=False), sfreq, source


def _is_media_file(audio) -> bool:
    """A path to anything but .wav: decoded (and resampled) by FFmpeg through PyAV."""
    return isinstance(audio, (str, os.PathLike)) and Path(audio).suffix.lower() != ".wav"


def _read_media_audio(path, sfreq, channel, target: float) -> tuple[np.ndarray, float, str]:
    """The soundtrack of a video / compressed audio file at the model's rate (resampled while decoding)."""
    from ._video import read_audio_track

    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"Audio file {str(path)!r} does not exist.")
    if sfreq is not None:
        raise BrainalignInputError(f"sfreq={sfreq} was given for the file {path.name}; pass sfreq=None for files.")
    if channel in (None, "mean"):
        # FFmpeg's down-mix averages the channels, as channel="mean" does for arrays.
        data, rate = read_audio_track(path, target, mono=True)
    else:
        data, rate = read_audio_track(path, target, mono=False)
    data = _pick_channel(data, channel, path.name)
    if data.size == 0:
        raise BrainalignInputError(f"The audio ({path.name}) is empty.")
    if not np.isfinite(data).all():
        raise BrainalignInputError(f"The audio ({path.name}) contains NaN or inf samples.")
    return data.astype(np.float64, copy=False), rate, path.name


def _read_audio_file(path: Path) -> tuple[np.ndarray, float]:
    """Float samples in [-1, 1] and the sampling rate of a .wav file (other files go through PyAV)."""
    from scipy.io import wavfile

    try:
        sfreq, data = wavfile.read(path)
    except ValueError as err:
        raise BrainalignInputError(f"Could not read {path.name} as WAV: {err}") from err
    return _pcm_to_float(data), float(sfreq)


def _pcm_to_float(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.uint8:
        return (data.astype(np.float64) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        # 24-bit WAV comes back left-justified in int32, so the int32 full scale applies.
        return data.astype(np.float64) / float(-np.iinfo(data.dtype).min)
    return data.astype(np.float64)


def _pick_channel(data: np.ndarray, channel, source: str) -> np.ndarray:
    if data.ndim == 1:
        if channel not in (None, 0, "mean"):
            raise BrainalignInputError(f"channel={channel!r} was given but the audio ({source}) is mono.")
        return data
    if data.ndim != 2:
        raise BrainalignInputError(
            f"audio ({source}) has shape {data.shape}; expected (n_samples,) or (n_samples, n_channels)."
        )
    n_samples, n_channels = data.shape
    if n_channels > n_samples:
        raise BrainalignInputError(
            f"audio ({source}) has shape {data.shape}, which looks like (n_channels, n_samples); "
            "pass audio.T so that samples run along the first axis."
        )
    if n_channels == 1:
        return data[:, 0]
    if channel is None:
        raise BrainalignInputError(
            f"audio ({source}) has {n_channels} channels (shape {data.shape}); speech models take one. "
            f"Pass channel=<index 0..{n_channels - 1}> to pick one or channel='mean' to average them."
        )
    if isinstance(channel, str):
        if channel != "mean":
            raise BrainalignInputError(f"channel must be an index or 'mean', got {channel!r}.")
        return data.mean(axis=1)
    if not isinstance(channel, (int, np.integer)) or not -n_channels <= channel < n_channels:
        raise BrainalignInputError(
            f"channel={channel!r} is not one of the {n_channels} channels of the audio ({source})."
        )
    return data[:, int(channel)]


def _resample(signal: np.ndarray, sfreq: float, target: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from ``sfreq`` to ``target`` Hz."""
    if abs(sfreq - target) < 1e-9:
        return signal
    from scipy.signal import resample_poly

    ratio = Fraction(target).limit_denominator(1000) / Fraction(sfreq).limit_denominator(1000)
    ratio = ratio.limit_denominator(10_000)
    logger.info(
        "Resampling audio from %g Hz to %g Hz (up %d, down %d).", sfreq, target, ratio.numerator, ratio.denominator
    )
    return resample_poly(signal, ratio.numerator, ratio.denominator)


# --------------------------------------------------------------------------- models

class _SpeechModel:
    """What the chunking needs to know about one speech model.

    ``hop`` samples separate frames; frame ``k`` of a segment starting at
    sample ``s`` is centred on sample ``s + k * hop + centre_offset``.
    """

    def __init__(self, net, feature_extractor):
        config = net.config
        self.net = net
        self.feature_extractor = feature_extractor
        self.model_type = getattr(config, "model_type", type(net).__name__)
        self.sampling_rate = float(feature_extractor.sampling_rate)
        if self.model_type == "whisper":
            self._init_whisper(net, config, feature_extractor)
        elif hasattr(config, "conv_stride") and hasattr(config, "conv_kernel"):
            self._init_conv(net, config, feature_extractor)
        else:
            raise BrainalignInputError(
                f"Unsupported speech model {type(net).__name__} (model_type {self.model_type!r}); supported are "
                "wav2vec 2.0-style models (wav2vec2, hubert, wavlm, data2vec-audio, ...) and the Whisper encoder."
            )

    def _init_conv(self, net, config, feature_extractor):
        if getattr(config, "add_adapter", False):
            raise BrainalignInputError(
                f"{type(net).__name__} has an adapter that changes its frame rate; adapters are not supported."
            )
        self.kind = "conv"
        self.module = net
        self.kernels = [int(k) for k in config.conv_kernel]
        self.strides = [int(s) for s in config.conv_stride]
        self.hop = int(np.prod(self.strides))
        receptive, jump = 1, 1
        for kernel, stride in zip(self.kernels, self.strides):
            receptive += (kernel - 1) * jump
            jump *= stride
        self.receptive_field = receptive
        self.centre_offset = receptive / 2.0
        self.min_samples = receptive
        self.window_samples = None
        self.normalize = bool(getattr(feature_extractor, "do_normalize", False))
        self.n_hidden_states = int(config.num_hidden_layers) + 1

    def _init_whisper(self, net, config, feature_extractor):
        from transformers.models.whisper.modeling_whisper import WhisperEncoder

        self.kind = "whisper"
        self.module = net if isinstance(net, WhisperEncoder) else net.get_encoder()
        conv_strides = self.module.conv1.stride[0] * self.module.conv2.stride[0]
        self.hop = int(feature_extractor.hop_length) * int(conv_strides)
        expected_mel = int(config.max_source_positions) * int(conv_strides)
        if int(feature_extractor.nb_max_frames) != expected_mel:
            raise BrainalignInputError(
                f"The Whisper feature extractor makes {feature_extractor.nb_max_frames} mel frames per window "
                f"but the encoder expects {expected_mel} (max_source_positions={config.max_source_positions}); "
                "build the extractor with chunk_length matching the model."
            )
        self.window_samples = int(feature_extractor.n_samples)
        # conv1 (stride 1) and conv2 (stride 2) are centred, so output frame k sits on mel frame
        # k * conv_strides, which the centred STFT places on sample k * hop.
        self.receptive_field = None
        self.centre_offset = 0.0
        self.min_samples = 1
        self.normalize = False
        self.n_hidden_states = int(config.encoder_layers) + 1

    def n_frames(self, n_samples: int) -> int:
        if self.kind == "conv":
            n = n_samples
            for kernel, stride in zip(self.kernels, self.strides):
                n = (n - kernel) // stride + 1
            return max(int(n), 0)
        return int(-(-n_samples // self.hop))

    def hidden_states(self, segment: np.ndarray, device, dtype):
        import torch

        with torch.inference_mode():
            if self.kind == "conv":
                values = torch.from_numpy(segment.astype(np.float32))[None].to(device=device, dtype=dtype)
                out = self.module(values, output_hidden_states=True)
            else:
                feats = self.feature_extractor(
                    segment.astype(np.float32), sampling_rate=int(self.sampling_rate), return_tensors="pt"
                ).input_features
                out = self.module(feats.to(device=device, dtype=dtype), output_hidden_states=True)
        return out.hidden_states


# --------------------------------------------------------------------------- chunking

def _chunk_plan(n_samples: int, speech: _SpeechModel, chunk_seconds: float, overlap_seconds: float):
    """Chunk (start, stop) sample bounds and, for every global frame, its chunk and local index."""
    sr = speech.sampling_rate
    chunk = int(round(float(chunk_seconds) * sr))
    overlap = int(round(float(overlap_seconds) * sr))
    if not (np.isfinite(chunk_seconds) and chunk_seconds > 0):
        raise BrainalignInputError(f"chunk_seconds must be positive, got {chunk_seconds!r}.")
    if not (np.isfinite(overlap_seconds) and 0 <= overlap_seconds < chunk_seconds):
        raise BrainalignInputError(
            f"overlap_seconds must be in [0, chunk_seconds={chunk_seconds}), got {overlap_seconds!r}."
        )
    if speech.window_samples is not None and chunk > speech.window_samples:
        raise BrainalignInputError(
            f"chunk_seconds={chunk_seconds} exceeds the Whisper encoder's window of "
            f"{speech.window_samples / sr:g} s; pass chunk_seconds <= {speech.window_samples / sr:g}."
        )
    if speech.receptive_field is not None and overlap < speech.receptive_field and n_samples > chunk:
        raise BrainalignInputError(
            f"overlap_seconds={overlap_seconds} is shorter than the model's convolutional receptive field "
            f"({speech.receptive_field / sr:g} s); frames at chunk edges would be lost."
        )
    step = ((chunk - overlap) // speech.hop) * speech.hop
    if step <= 0:
        raise BrainalignInputError(
            f"chunk_seconds - overlap_seconds must be at least one model frame ({speech.hop / sr:g} s)."
        )
    starts = [0]
    while starts[-1] + chunk < n_samples:
        starts.append(starts[-1] + step)
    bounds = [(s, min(s + chunk, n_samples)) for s in starts]
    n_frames = speech.n_frames(n_samples)
    centres = np.arange(n_frames) * speech.hop + speech.centre_offset
    cuts = np.array([(bounds[c + 1][0] + bounds[c][1]) / 2.0 for c in range(len(bounds) - 1)])
    owner = np.searchsorted(cuts, centres, side="right")
    local = np.arange(n_frames) - np.array([s for s, _ in bounds])[owner] // speech.hop
    chunk_lengths = np.array([speech.n_frames(stop - start) for start, stop in bounds])
    if np.any(local < 0) or np.any(local >= chunk_lengths[owner]):
        raise RuntimeError("Internal error: a frame fell outside its chunk; please report this.")
    return bounds, owner, local, centres / sr


def _resample_frames(values: np.ndarray, frame_times: np.ndarray, grid: np.ndarray, interpolation: str):
    """Map rows at ``frame_times`` onto ``grid`` (held constant beyond the first / last frame)."""
    if frame_times.size == 1:
        return np.repeat(values, grid.size, axis=0)
    if interpolation == "nearest":
        right = np.clip(np.searchsorted(frame_times, grid), 1, frame_times.size - 1)
        left = right - 1
        pick = np.where(grid - frame_times[left] <= frame_times[right] - grid, left, right)
        return values[pick]
    right = np.clip(np.searchsorted(frame_times, grid, side="right"), 1, frame_times.size - 1)
    left = right - 1
    weight = np.clip((grid - frame_times[left]) / (frame_times[right] - frame_times[left]), 0.0, 1.0)
    return values[left] * (1.0 - weight)[:, None] + values[right] * weight[:, None]


def _output_grid(times, frame_rate, duration: float):
    return media_time_grid(times, frame_rate, duration, rate_name="frame_rate", rate_unit="Hz", media="audio",
                           include_end=True, default=lambda: None)


# --------------------------------------------------------------------------- public API

def extract_audio_features(
    audio,
    sfreq,
    model,
    *,
    layers=None,
    times=None,
    frame_rate=None,
    interpolation: str = "linear",
    chunk_seconds: float = 30.0,
    overlap_seconds: float = 5.0,
    channel=None,
    device="auto",
    dtype=None,
    revision: str | None = None,
    feature_extractor=None,
    run: str | None = None,
    cache_dir=None,
    weights: str = "pretrained",
    init_seed: int = 0,
    on_chunk=None,
) -> FeatureSet:
    """Layerwise features of a speech model on a time grid in seconds.

    Parameters
    ----------
    audio : ndarray, shape (n_samples,) or (n_samples, n_channels), or path
        Float samples (in [-1, 1] for Whisper), a ``.wav`` file, or any file
        FFmpeg reads (the soundtrack of a movie, .mp3, .flac, ...: decoded
        with PyAV and resampled to the model's rate while decoding).  Arrays
        and .wav files with several channels need ``channel=``; other files
        are mixed down to mono unless ``channel`` picks one.
    sfreq : float or None
        Sampling rate of ``audio`` in Hz; ``None`` for files (read from the
        file).  The audio is resampled to the model's rate with
        :func:`scipy.signal.resample_poly`.
    model : str, path or transformers model
        A wav2vec 2.0-style model (wav2vec2, HuBERT, WavLM, data2vec-audio) or
        Whisper (its encoder is used): a hub id, a local folder or a loaded model.
    layers : str or list of str or None
        ``"embeddings"`` (input of the first transformer block), ``"layer.0"``,
        ...; ``None`` keeps all.  Unknown names raise listing the valid ones.
    times : array-like of float or None
        Output times in seconds (within the audio); features are interpolated
        from the model's frames.  ``None`` (and no ``frame_rate``) keeps the
        model's own frames, e.g. every 20 ms, stamped at their centre.
    frame_rate : float or None
        Output grid ``0, 1/frame_rate, ...`` up to the end of the audio.
        For a coarse grid such as fMRI volumes, keep the native frames and let
        the alignment stage (HRF / Lanczos) do the downsampling instead.
    interpolation : {"linear", "nearest"}
        How frames are mapped onto ``times`` / ``frame_rate``.  Times before the
        first frame centre or after the last take that frame's value.
    chunk_seconds, overlap_seconds : float
        Audio longer than ``chunk_seconds`` is run in chunks overlapping by at
        least ``overlap_seconds``; each frame comes from the chunk where it is
        at least ``overlap_seconds / 2`` from a cut.  For Whisper
        ``chunk_seconds`` may not exceed its window (30 s); each chunk is zero
        padded to the window and frames beyond the real audio are dropped.
    channel : int, "mean" or None
        Which channel of multi-channel audio to use, or ``"mean"`` to average.
    device, dtype, revision, cache_dir
        As in :func:`extract_image_features`.
    feature_extractor : transformers feature extractor or None
        Required with a model object (it gives the sampling rate and, for
        Whisper, the log-mel settings).  When it normalises audio
        (``do_normalize``), the normalisation is applied once to the whole
        recording, so that chunked and single-pass inputs match.
    run : str or None
        Run label of the timeline.
    weights : {"pretrained", "random"}
        ``"random"``: the same architecture with weights drawn under
        ``torch.manual_seed(init_seed)`` (the untrained control; the feature
        extractor is unchanged).  In ``metadata["weights"]`` and the cache key.
    init_seed : int
        Seed of the random weights.
    on_chunk : callable or None
        ``on_chunk(k, n_chunks)`` after audio chunk ``k`` is done.

    Returns
    -------
    FeatureSet
        One ``(n_times, n_dims)`` array per layer; the timeline's tokens are
        ``"frame"`` and its onsets the times in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from transformers import Wav2Vec2Config, Wav2Vec2Model, Wav2Vec2FeatureExtractor
    >>> config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
    ...                         intermediate_size=64, conv_dim=(16, 16, 16), conv_stride=(5, 4, 4),
    ...                         conv_kernel=(10, 4, 4), num_conv_pos_embeddings=8,
    ...                         num_conv_pos_embedding_groups=2, feat_extract_norm="layer")
    >>> net = Wav2Vec2Model(config)
    >>> audio = np.random.default_rng(0).normal(size=8000) * 0.1   # 1 s at 8 kHz
    >>> fs = extract_audio_features(audio, 8000, net, feature_extractor=Wav2Vec2FeatureExtractor(),
    ...                             frame_rate=10.0, device="cpu")
    >>> fs.layer_names, fs["layer.1"].shape, fs.times[:3]
    (['embeddings', 'layer.0', 'layer.1'], (10, 32), array([0. , 0.1, 0.2]))
    """
    if interpolation not in INTERPOLATIONS:
        raise BrainalignInputError(f"Unknown interpolation {interpolation!r}; use one of {list(INTERPOLATIONS)}.")
    media = _is_media_file(audio)
    if not media:  # arrays and .wav are checked before the model is loaded
        signal, in_sfreq, source = _read_audio(audio, sfreq, channel)
    torch_dtype = resolve_dtype(dtype)
    net, feature_extractor = load_model_and_processor(
        model, feature_extractor, revision=revision, dtype=torch_dtype, processor_class="AutoFeatureExtractor",
        kind="speech model", processor_arg="feature_extractor", weights=weights, init_seed=init_seed,
        processor_help="(e.g. Wav2Vec2FeatureExtractor(sampling_rate=16000) or WhisperFeatureExtractor(...)) to "
        "know its sampling rate and input format",
    )
    speech = _SpeechModel(net, feature_extractor)
    if media:
        signal, in_sfreq, source = _read_media_audio(audio, sfreq, channel, speech.sampling_rate)
    duration = signal.size / in_sfreq
    grid = _output_grid(times, frame_rate, duration)
    valid_layers = _layer_names(speech.n_hidden_states)
    selected = _check_layers(layers, valid_layers)
    samples = _resample(signal, in_sfreq, speech.sampling_rate)
    if samples.size < speech.min_samples:
        raise BrainalignInputError(
            f"The audio ({source}) lasts {duration * 1000:.1f} ms, shorter than one frame of "
            f"{speech.model_type} ({speech.min_samples / speech.sampling_rate * 1000:.1f} ms)."
        )
    if speech.normalize:
        samples = (samples - samples.mean()) / np.sqrt(samples.var() + _NORM_EPS)
    bounds, owner, local, frame_times = _chunk_plan(samples.size, speech, chunk_seconds, overlap_seconds)
    native_events = Timeline(["frame"] * frame_times.size, frame_times, runs=run)
    model_id = _model_id(model, net)
    # The store keeps the native frames; output grids are cheap to derive, so one entry serves them all.
    stimulus = content_key({"audio": hash_array(signal), "sfreq": in_sfreq, "timeline": native_events.content_hash})
    fingerprint = model_fingerprint(net)
    store, key, native = open_cache(cache_dir, modality="audio", model_id=model_id, revision=revision,
                                    stimulus_hash=stimulus, params=lambda: {
        "fingerprint": fingerprint,
        "feature_extractor": _config_dict(feature_extractor),
        "layers": selected,
        "chunk_seconds": float(chunk_seconds),
        "overlap_seconds": float(overlap_seconds),
        "dtype": None if torch_dtype is None else str(torch_dtype),
        **weights_key(weights, init_seed),
    })
    if native is None:
        device = resolve_device(device)
        net = prepare_model(speech.net, device, torch_dtype)
        param_dtype = next(net.parameters()).dtype
        metadata = extraction_metadata(
            modality="audio", model_id=model_id, revision=revision, model_class=type(net).__name__,
            model_fingerprint=fingerprint,
            device=device, dtype=param_dtype,
            model_type=speech.model_type,
            source=source,
            input_sfreq=in_sfreq,
            model_sfreq=speech.sampling_rate,
            duration=duration,
            native_frame_rate=speech.sampling_rate / speech.hop,
            n_native_frames=int(frame_times.size),
            chunk_seconds=float(chunk_seconds),
            overlap_seconds=float(overlap_seconds),
            n_chunks=len(bounds),
            normalization="zero mean, unit variance over the whole recording" if speech.normalize else None,
            **{"weights": weights, **weights_key(weights, init_seed)},
        )
        native = _run_chunks(samples, speech, selected, valid_layers, bounds, owner, local, native_events,
                             metadata, device, param_dtype, store, key, on_chunk)
    if grid is None:
        native.metadata.update(grid="native", interpolation=None)
        return native
    layers_out = {
        name: _resample_frames(np.asarray(values), frame_times, grid, interpolation)
        for name, values in native.layers.items()
    }
    out_metadata = dict(native.metadata, grid="frame_rate" if frame_rate is not None else "times",
                        interpolation=interpolation)
    return FeatureSet(layers_out, Timeline(["frame"] * grid.size, grid, runs=run), out_metadata)


def _run_chunks(samples, speech, selected, valid_layers, bounds, owner, local, events, metadata, device, dtype,
                store, key, on_chunk) -> FeatureSet:
    """Frames of every selected layer for the whole signal, stitched from overlapping audio chunks.

    Each audio chunk's frames are one chunk of the engine's resumable loop.
    """
    import torch

    index = {name: i for i, name in enumerate(valid_layers)}

    def compute(c: int):
        start, stop = bounds[c]
        hidden_states = speech.hidden_states(samples[start:stop], device, dtype)
        if len(hidden_states) != len(valid_layers):
            raise RuntimeError(
                f"{type(speech.net).__name__} returned {len(hidden_states)} hidden states; its config implies "
                f"{len(valid_layers)}."
            )
        mine = np.flatnonzero(owner == c)
        keep = torch.as_tensor(local[mine])
        return mine, {name: hidden_states[index[name]][0, keep].float().cpu().numpy() for name in selected}

    return run_chunks(compute, n_chunks=len(bounds), timeline=events, metadata=metadata, store=store, key=key,
                      layer_names=selected, desc="audio chunks", unit="chunk", on_chunk=on_chunk)
