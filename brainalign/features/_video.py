"""Movies: decoding video files with PyAV and layerwise image-model features of their frames.

PyAV ships its own FFmpeg libraries, so any container FFmpeg reads (.mp4,
.mkv, .avi, .mov, .webm, ...) works without a system FFmpeg.  Frames are
decoded chunk by chunk after a seek to the chunk's first time, so memory is
bounded by the chunk size, never by the length of the movie.  Times are those
the container reports for each frame (presentation timestamps), so variable
frame rates are handled: the frame on screen at time ``t`` is the last frame
whose timestamp is ``<= t``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core import BrainalignInputError, FeatureSet, Timeline, content_key, hash_array, hash_file
from ._engine import BatchRunner, extraction_metadata, model_fingerprint, open_cache, run_chunks
from ._loading import weights_key
from ._timegrid import media_time_grid
from ._vision import (_check_pixel_array, _check_pooling_name, _config_dict, _ImageRunner, _layers_key, _model_id,
                      load_image_model)

logger = logging.getLogger("brainalign.features")

__all__ = ["VideoInfo", "VideoReader", "extract_video_features", "probe_video", "read_audio_track"]

# Times within this many seconds of a frame's timestamp count as showing it (float rounding of timestamps).
_TIME_EPS = 1e-6

# A read starting at most this many seconds after the previous read's last frame decodes on instead of
# seeking (typical key-frame intervals are 2-10 s; decoding that far is cheaper than a seek and a re-decode).
_CONTINUE_WITHIN_S = 10.0


def _av():
    try:
        import av
    except ImportError:  # pragma: no cover - av is a declared dependency
        raise BrainalignInputError("Reading video files needs PyAV: pip install av.") from None
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video file.

    Attributes
    ----------
    path : str
    duration : float
        Seconds from the first frame to the end of the video stream.
    fps : float
        Average frame rate the container reports (variable-rate files have
        per-frame timestamps; this is only their average).
    n_frames : int or None
        Frame count from the container header (``None`` when it has none).
    width, height : int
    codec : str
    has_audio : bool
    audio_sfreq : float or None
        Sampling rate of the first audio stream.
    audio_channels : int or None
    """

    path: str
    duration: float
    fps: float
    n_frames: int | None
    width: int
    height: int
    codec: str
    has_audio: bool
    audio_sfreq: float | None
    audio_channels: int | None


def _open(path, what: str = "a video"):
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"Video file {str(path)!r} does not exist.")
    try:
        return av.open(str(path), "r")
    except av.error.FFmpegError as err:
        raise BrainalignInputError(
            f"Cannot open {path} as {what}: {err} (the file is corrupt, truncated or not a media file)."
        ) from err


def _stream_start(stream) -> float:
    if stream.start_time is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video file's header: duration, frame rate, frame count, size, audio.

    Parameters
    ----------
    path : str or Path
        Any container FFmpeg reads.

    Returns
    -------
    VideoInfo

    Raises
    ------
    BrainalignInputError
        When the file is missing, cannot be opened or holds no video stream.
    """
    with VideoReader(path) as reader:
        return reader.info


class VideoReader:
    """Frames of a video file at requested times, decoded after a seek, one at a time.

    Parameters
    ----------
    path : str or Path

    Examples
    --------
    >>> import av, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mkv")
    >>> with av.open(path, "w") as out:
    ...     stream = out.add_stream("ffv1", rate=10)
    ...     stream.width, stream.height = 16, 16
    ...     for k in range(20):
    ...         frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 10 * k, np.uint8), format="rgb24")
    ...         out.mux(stream.encode(frame))
    ...     out.mux(stream.encode())
    >>> with VideoReader(path) as reader:
    ...     [(round(t, 2), round(rgb[0, 0, 0] / 10)) for t, rgb in reader.frames_at([0.0, 0.55, 1.95])]
    [(0.0, 0), (0.5, 5), (1.9, 19)]
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._packet_times: np.ndarray | None = None
        self._live: dict | None = None  # where the last read stopped (decoder, pending frame, frame shown)
        self.stream_end = float("nan")
        self._container = _open(self.path)
        try:
            self._info = self._read_info()
        except BrainalignInputError:
            self._container.close()
            raise

    def _read_info(self) -> VideoInfo:
        container = self._container
        if not container.streams.video:
            raise BrainalignInputError(f"{self.path} holds no video stream.")
        stream = container.streams.video[0]
        # Multi-threaded decoding of frames (the decoder's own threads, not Python's).
        stream.thread_type = "AUTO"
        self._stream = stream
        self._start = _stream_start(stream)
        fps = float(stream.average_rate) if stream.average_rate else float(stream.guessed_rate or 0)
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = float(container.duration) / 1e6 - self._start
        else:
            duration = float("nan")
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            path=str(self.path), duration=duration, fps=fps, n_frames=int(stream.frames) or None,
            width=int(stream.codec_context.width), height=int(stream.codec_context.height),
            codec=str(stream.codec_context.name), has_audio=audio is not None,
            audio_sfreq=float(audio.sample_rate) if audio is not None else None,
            audio_channels=int(audio.channels) if audio is not None else None,
        )

    @property
    def info(self) -> VideoInfo:
        return self._info

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fail(self, err, frame_time: float | None, n_decoded: int):
        where = "before the first frame" if frame_time is None else (
            f"after frame at t={frame_time:.3f} s (about frame {int(round(frame_time * self._info.fps))})")
        return BrainalignInputError(
            f"Decoding {self.path} failed {where}, {n_decoded} frame(s) into this read: {err}. "
            "The file is corrupt or truncated."
        )

    def frame_times(self) -> np.ndarray:
        """Timestamps (s, from the first frame) of every frame, read from packets without decoding.

        Read once per reader (demuxing only, no decoding); also sets
        :attr:`stream_end`, the end of the last frame.
        """
        if self._packet_times is not None:
            return self._packet_times
        av = _av()
        times, end = [], 0.0
        self._live = None  # demuxing moves the container away from where a read stopped
        try:
            self._container.seek(0, stream=self._stream, backward=True)
            for packet in self._container.demux(self._stream):
                if packet.pts is not None and packet.size:
                    t = float(packet.pts * packet.time_base) - self._start
                    times.append(t)
                    end = max(end, t + float((packet.duration or 0) * packet.time_base))
        except av.error.FFmpegError as err:
            last = times[-1] if times else None
            raise self._fail(err, last, len(times)) from err
        if not times:
            raise BrainalignInputError(f"{self.path}: its video stream holds no frames.")
        self._packet_times = np.unique(np.asarray(times))
        period = float(np.median(np.diff(self._packet_times))) if self._packet_times.size > 1 else 0.0
        self.stream_end = max(end, float(self._packet_times[-1]) + period)
        return self._packet_times

    @property
    def duration(self) -> float:
        """Seconds of video: the longer of what the header says and where the last frame ends."""
        self.frame_times()
        header = self._info.duration
        return max(header, self.stream_end) if np.isfinite(header) else self.stream_end

    def frames_at(self, times) -> Iterator[tuple[float, np.ndarray]]:
        """``(frame timestamp, RGB uint8 array (H, W, 3))`` of the frame on screen at each time.

        ``times`` (seconds from the first frame) must be non-decreasing.  The
        reader seeks to the key frame before ``times[0]`` and decodes forward;
        a frame shown at several times is converted to RGB once.  A read whose
        first time follows the previous read's last one (within 10 s) decodes
        on from where that read stopped instead of seeking.

        Raises
        ------
        BrainalignInputError
            Naming the file and the last frame decoded when decoding fails, or
            when the stream ends before a requested time (a truncated file).
        """
        av = _av()
        times = np.asarray(times, dtype=float)
        if times.size == 0:
            return
        stream = self._stream
        live, self._live = self._live, None  # invalid until this read ends cleanly
        n_decoded, idx = 0, 0
        frame_period = 1.0 / self._info.fps if self._info.fps > 0 else 0.0
        if live is not None and live["prev_time"] <= times[0] + _TIME_EPS \
                and times[0] - live["prev_time"] <= _CONTINUE_WITHIN_S:
            # The previous read stopped just before this one's first time: decoding on is cheaper
            # than seeking back to a key frame and decoding the group of pictures again.
            decoder, pending = live["decoder"], live["pending"]
            prev, prev_time, prev_rgb = live["prev"], live["prev_time"], live["prev_rgb"]
        else:
            target = int((max(float(times[0]), 0.0) + self._start) / stream.time_base)
            decoder, pending = None, None
            prev, prev_time, prev_rgb = None, None, None
        try:
            if decoder is None:
                self._container.seek(target, stream=stream, backward=True, any_frame=False)
                decoder = self._container.decode(stream)
            while True:
                if pending is not None:
                    frame, pending = pending, None
                else:
                    frame = next(decoder, None)
                    if frame is None:
                        break
                    n_decoded += 1
                if frame.pts is None:
                    continue
                ft = float(frame.pts * stream.time_base) - self._start
                while idx < times.size and times[idx] < ft - _TIME_EPS:
                    if prev is None:  # the time precedes the stream's first frame: show that frame
                        prev, prev_time = frame, ft
                    if prev_rgb is None:
                        prev_rgb = prev.to_ndarray(format="rgb24")
                    yield prev_time, prev_rgb
                    idx += 1
                if idx >= times.size:
                    self._live = {"decoder": decoder, "pending": frame, "prev": prev, "prev_time": prev_time,
                                  "prev_rgb": prev_rgb}
                    return
                prev, prev_time, prev_rgb = frame, ft, None
        except av.error.FFmpegError as err:
            raise self._fail(err, prev_time, n_decoded) from err
        if prev is None:
            raise BrainalignInputError(
                f"Decoding {self.path} gave no frame at or after t={times[0]:.3f} s: the file is truncated or "
                f"corrupt (the header says it lasts {self._info.duration:.3f} s)."
            )
        # Past the last decoded frame, which stays on screen until the stream ends.  A requested time
        # beyond that means frames the file promised never came: the decoder stopped before the last
        # packet (corrupt data), or the stream ends before the duration its header gives (truncated).
        last_packet = float(self.frame_times()[-1])
        if prev_time < last_packet - _TIME_EPS:
            limit = prev_time + 2 * frame_period
        else:
            limit = self.stream_end + frame_period
        late = times[idx:] > limit + _TIME_EPS
        if late.any():
            raise BrainalignInputError(
                f"Decoding {self.path} stopped at the frame at t={prev_time:.3f} s (about frame "
                f"{int(round(prev_time * self._info.fps))}), before the requested time {times[idx:][late][0]:.3f} s; "
                f"the header says the video lasts {self._info.duration:.3f} s.  The file is truncated or corrupt."
            )
        if prev_rgb is None:
            prev_rgb = prev.to_ndarray(format="rgb24")
        for _ in range(idx, times.size):
            yield prev_time, prev_rgb


def read_audio_track(path: str | os.PathLike, sfreq: float | None = None, *, mono: bool = True
                     ) -> tuple[np.ndarray, float]:
    """The soundtrack of a media file as float32 samples, resampled by FFmpeg while decoding.

    Parameters
    ----------
    path : str or Path
        A video or audio file (anything FFmpeg reads: .mp4, .mkv, .mp3, .flac, ...).
    sfreq : float or None
        Output sampling rate (e.g. the speech model's 16 kHz); ``None`` keeps
        the file's.  Resampling while decoding keeps only the output rate in
        memory (2 hours at 16 kHz mono is about 460 MB).
    mono : bool
        Mix the channels down to one.

    Returns
    -------
    samples : ndarray, shape (n_samples,) or (n_samples, n_channels)
    sfreq : float
    """
    av = _av()
    container = _open(path, "an audio source")
    try:
        if not container.streams.audio:
            raise BrainalignInputError(f"{path} holds no audio stream.")
        stream = container.streams.audio[0]
        rate = int(round(sfreq)) if sfreq is not None else int(stream.sample_rate)
        resampler = av.AudioResampler(format="flt", layout="mono" if mono else stream.layout.name, rate=rate)
        parts, n, last_time = [], 0, None
        try:
            for frame in container.decode(stream):
                last_time = frame.time
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray())
                    n += out.samples
            for out in resampler.resample(None):
                parts.append(out.to_ndarray())
        except av.error.FFmpegError as err:
            where = "before the first audio frame" if last_time is None else f"after t={last_time:.3f} s"
            raise BrainalignInputError(f"Decoding the audio of {path} failed {where}: {err}.") from err
    finally:
        container.close()
    if not parts:
        raise BrainalignInputError(f"The audio stream of {path} holds no samples.")
    # packed float frames come back as (1, n_samples * n_channels)
    channels = 1 if mono else len(stream.layout.channels)
    data = np.concatenate([p.reshape(-1) for p in parts]).reshape(-1, channels)
    return (data[:, 0] if mono else data), float(rate)


# --------------------------------------------------------------------------- time grids

def _sample_grid(times, sample_fps, duration: float, every_frame) -> np.ndarray:
    return media_time_grid(times, sample_fps, duration, rate_name="sample_fps", rate_unit="frames per second",
                           media="video", include_end=False, default=every_frame)


# --------------------------------------------------------------------------- extraction

def extract_video_features(
    video,
    model,
    *,
    fps: float | None = None,
    times=None,
    sample_fps: float | None = None,
    layers=None,
    pooling: str = "auto",
    batch_size: int = 16,
    chunk_frames: int = 256,
    device="auto",
    dtype=None,
    revision: str | None = None,
    processor=None,
    run: str | None = None,
    cache_dir=None,
    storage_dtype: str = "float32",
    weights: str = "pretrained",
    init_seed: int = 0,
    on_chunk=None,
) -> FeatureSet:
    """Layerwise image-model features of a movie's frames on a time grid.

    Parameters
    ----------
    video : str, Path or ndarray, shape (n_frames, H, W, 3)
        A video file (decoded with PyAV: .mp4, .mkv, .avi, .mov, .webm, ...)
        or decoded RGB frames (``uint8`` or float in [0, 1]) with ``fps``.
        Files are decoded chunk by chunk after a seek, so a 2-hour movie is
        never held in memory.
    model : str, path or transformers model
        As in :func:`extract_image_features` (ViT, CLIP's vision tower,
        ConvNeXt, ...).
    fps : float or None
        Frame rate of an array ``video`` (frame ``k`` is on screen during
        ``[k / fps, (k + 1) / fps)``).  Files use the timestamps their
        container reports (variable frame rates included); ``fps`` must then
        be ``None``.
    times : array-like of float or None
        Non-decreasing times in seconds from the first frame, within the
        video, at which to sample it (e.g. the middle of each fMRI volume).
    sample_fps : float or None
        Sample at this rate from 0 s instead (``times`` and ``sample_fps``
        exclude each other).  With neither, every frame is kept at its own
        timestamp.
    layers, pooling, device, dtype, revision, processor, weights, init_seed
        As in :func:`extract_image_features` (``weights="random"``: the
        untrained control with seeded random weights).
    batch_size : int
        Frames per forward pass (halved automatically on out-of-memory errors).
    chunk_frames : int
        Sample times per stored chunk: the unit of resumption after a crash
        and of memory use.
    run : str or None
        Run label of the timeline.
    cache_dir : path or None
        Store chunks as they are computed and reuse the result; an
        interrupted extraction resumes without recomputing stored chunks.
    storage_dtype : {"float32", "float16"}
    on_chunk : callable or None
        ``on_chunk(k, n_chunks)`` after chunk ``k`` is done.

    Returns
    -------
    FeatureSet
        One row per sample time; the timeline's onsets are the times and its
        tokens ``"frame-<k>"`` for arrays, ``"frame"`` for files.
        ``metadata["frame_times"]`` holds the timestamp of the frame shown at
        each time (``metadata["frame_index"]`` too for arrays).

    Raises
    ------
    BrainalignInputError
        For a missing, corrupt or truncated file (naming the file and the
        time where decoding failed), times outside the video, bad frames.

    Examples
    --------
    >>> import numpy as np
    >>> from transformers import ConvNextConfig, ConvNextModel, ConvNextImageProcessor
    >>> net = ConvNextModel(ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2))
    >>> proc = ConvNextImageProcessor(size={"shortest_edge": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    >>> movie = np.random.default_rng(0).integers(0, 256, (50, 36, 36, 3), dtype=np.uint8)  # 2 s at 25 fps
    >>> fs = extract_video_features(movie, net, fps=25.0, times=[0.0, 0.5, 1.0, 1.5], processor=proc, device="cpu")
    >>> fs.metadata["frame_index"], fs["layer.1"].shape
    ([0, 12, 25, 37], (4, 16))
    """
    _check_pooling_name(pooling)
    if not isinstance(chunk_frames, (int, np.integer)) or chunk_frames < 1:
        raise BrainalignInputError(f"chunk_frames must be a positive integer, got {chunk_frames!r}.")
    BatchRunner(batch_size)  # validates batch_size before anything is decoded or loaded
    if isinstance(video, (str, os.PathLike)):
        if fps is not None:
            raise BrainalignInputError(
                f"fps={fps} was given with the video file {str(video)!r}; files use the frame timestamps their "
                "container reports.  To sample at a rate, pass sample_fps= (or times=)."
            )
        source = _FileFrames(video, times, sample_fps, int(chunk_frames))
    else:
        source = _ArrayFrames(video, fps, times, sample_fps, int(chunk_frames))
    try:
        return _extract(source, model, layers=layers, pooling=pooling, batch_size=batch_size, device=device,
                        dtype=dtype, revision=revision, processor=processor, run=run, cache_dir=cache_dir,
                        storage_dtype=storage_dtype, on_chunk=on_chunk, weights=weights, init_seed=init_seed)
    finally:
        source.close()


class _ArrayFrames:
    """Frames from a decoded array: frame ``floor(t * fps)`` is on screen at ``t``."""

    def __init__(self, frames, fps, times, sample_fps, chunk_frames: int) -> None:
        frames = np.asarray(frames) if not isinstance(frames, np.ndarray) else frames
        _check_pixel_array(frames, "video frames", batch=True)
        if fps is None:
            raise BrainalignInputError("fps (the frame rate of the frames array) is required for an array video.")
        fps = float(fps)
        if not (np.isfinite(fps) and fps > 0):
            raise BrainalignInputError(f"fps must be a positive number, got {fps!r}.")
        n_frames = frames.shape[0]
        self.grid = _sample_grid(times, sample_fps, n_frames / fps, lambda: np.arange(n_frames, dtype=float) / fps)
        # The small epsilon keeps t = k / fps on frame k despite floating-point error.
        self.frame_index = np.minimum(np.floor(self.grid * fps + 1e-9).astype(int), n_frames - 1)
        self.frames, self.fps = frames, fps
        self.tokens = [f"frame-{k}" for k in self.frame_index]
        self.chunks = [np.arange(s, min(s + chunk_frames, self.grid.size))
                       for s in range(0, self.grid.size, chunk_frames)]
        self.metadata = {"source": "array", "fps": fps, "n_frames": int(n_frames),
                         "frame_index": [int(k) for k in self.frame_index],
                         "frame_times": (self.frame_index / fps).tolist()}

    @property
    def stimulus_hash(self) -> str:
        """Hash of the frames shown (read only for caching)."""
        unique = np.unique(self.frame_index)
        return content_key({"frames": [hash_array(self.frames[k]) for k in unique], "fps": self.fps})

    def first_frame(self) -> np.ndarray:
        return self.frames[self.frame_index[0]]

    def chunk(self, k: int) -> Iterator[tuple[float, np.ndarray]]:
        for row in self.chunks[k]:
            index = self.frame_index[row]
            yield index / self.fps, self.frames[index]

    def close(self) -> None:
        pass


class _FileFrames:
    """Frames decoded from a file, chunk by chunk, each chunk after a seek."""

    def __init__(self, path, times, sample_fps, chunk_frames: int) -> None:
        self.reader = VideoReader(path)
        try:
            info = self.reader.info
            every = self.reader.frame_times()
            duration = self.reader.duration
            self.grid = _sample_grid(times, sample_fps, duration, lambda: every)
        except BaseException:
            self.reader.close()
            raise
        self.chunks = [np.arange(s, min(s + chunk_frames, self.grid.size))
                       for s in range(0, self.grid.size, chunk_frames)]
        self.path = Path(path)
        self.tokens = ["frame"] * self.grid.size
        # The frame on screen at t is the last one whose timestamp is <= t: known from the packets,
        # so the timestamps are recorded (and stored with the features) before anything is decoded.
        shown = np.clip(np.searchsorted(every, self.grid + _TIME_EPS, side="right") - 1, 0, every.size - 1)
        self.metadata = {"source": self.path.name, "fps": info.fps, "n_frames": int(every.size),
                         "duration": duration, "width": info.width, "height": info.height, "codec": info.codec,
                         "frame_times": every[shown].tolist()}

    @property
    def stimulus_hash(self) -> str:
        """The file's bytes identify the stimulus (a re-encode is another stimulus); read only for caching."""
        return content_key({"file": hash_file(self.path)})

    def first_frame(self) -> np.ndarray:
        return next(iter(self.reader.frames_at(self.grid[:1])))[1]

    def chunk(self, k: int) -> Iterator[tuple[float, np.ndarray]]:
        rows = self.chunks[k]
        yield from self.reader.frames_at(self.grid[rows])

    def close(self) -> None:
        self.reader.close()


def _extract(source, model, *, layers, pooling, batch_size, device, dtype, revision, processor, run, cache_dir,
             storage_dtype, on_chunk, weights="pretrained", init_seed=0) -> FeatureSet:
    net, processor, torch_dtype = load_image_model(model, processor, revision, dtype, "frames", weights, init_seed)
    model_id = _model_id(model, net)
    events = Timeline(source.tokens, source.grid, runs=run)
    stimulus = None if cache_dir is None else content_key({"video": source.stimulus_hash,
                                                           "timeline": events.content_hash})
    fingerprint = model_fingerprint(net)
    store, key, cached = open_cache(cache_dir, modality="video", model_id=model_id, revision=revision,
                                    stimulus_hash=stimulus, params=lambda: {
        "fingerprint": fingerprint, "processor": _config_dict(processor),
        "layers": _layers_key(layers), "pooling": pooling, "storage_dtype": str(storage_dtype),
        "dtype": None if torch_dtype is None else str(torch_dtype), "chunk_frames": len(source.chunks[0]),
        **weights_key(weights, init_seed),
    })
    if cached is not None:
        return cached
    runner = _ImageRunner(net, processor, layers, pooling, device, torch_dtype)
    runner([source.first_frame()])  # fixes the layers and pooling before anything is stored
    batches = BatchRunner(batch_size, what="frames")

    def compute(k: int):
        rows = source.chunks[k]
        out: dict[str, np.ndarray] = {}
        pending, frame_of_row = [], np.empty(rows.size, dtype=np.int64)
        last_time, n_unique = None, 0

        def flush():
            for _, feats in batches.run(pending, runner):
                for name, values in feats.items():
                    out.setdefault(name, []).append(values)
            pending.clear()

        for pos, (ft, rgb) in enumerate(source.chunk(k)):
            if ft != last_time:  # a frame shown at several times runs through the model once
                pending.append(rgb)
                n_unique += 1
                last_time = ft
                if len(pending) >= batches.batch_size:
                    flush()
            frame_of_row[pos] = n_unique - 1
        if len(frame_of_row) != rows.size:
            raise RuntimeError("Internal error: the decoder returned fewer frames than requested.")
        flush()
        return rows, {name: np.concatenate(parts)[frame_of_row] for name, parts in out.items()}

    metadata = extraction_metadata(
        modality="video", model_id=model_id, revision=revision, model_class=type(net).__name__,
        model_fingerprint=fingerprint,
        device=runner.device, dtype=runner.param_dtype, **source.metadata, **runner.info,
        chunk_frames=len(source.chunks[0]), **{"weights": weights, **weights_key(weights, init_seed)},
    )
    return run_chunks(compute, n_chunks=len(source.chunks), timeline=events, metadata=metadata, store=store,
                        key=key, layer_names=runner.selected, storage_dtype=str(storage_dtype),
                        desc="video frames", unit="frame", weights=[len(c) for c in source.chunks],
                        on_chunk=on_chunk)
