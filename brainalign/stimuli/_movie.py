"""A synthetic movie written to a real container file (for tests, tutorials and benchmarks)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, Timeline, atomic_path

__all__ = ["write_synthetic_movie"]

_CODECS = {".mp4": ("libx264", "aac"), ".mkv": ("libx264", "flac"), ".mov": ("libx264", "aac"),
           ".avi": ("mpeg4", "pcm_s16le")}


def write_synthetic_movie(
    path: str | os.PathLike,
    *,
    duration: float = 4.0,
    fps: float = 25.0,
    size: tuple[int, int] = (64, 64),
    sfreq: int = 16000,
    frame_times: Sequence[float] | None = None,
    audio: bool = True,
    words: Sequence[str] | None = None,
    seed: int = 0,
    video_codec: str | None = None,
    audio_codec: str | None = None,
    crf: int = 23,
) -> Timeline:
    """Write a short movie (moving coloured scene + speech-like soundtrack) and return its transcript.

    The picture is a smooth colour field whose hue, brightness and a moving
    bar change over time; the soundtrack is a sequence of "syllables" (tone
    bursts with a random pitch and an amplitude envelope) at about 4 per
    second, grouped into words, over a quiet background hum.  Everything is
    drawn from ``seed``, so equal arguments give an identical file.

    Parameters
    ----------
    path : str or Path
        ``.mp4`` (H.264 + AAC), ``.mkv`` (H.264 + FLAC), ``.mov`` or ``.avi``.
    duration : float
        Seconds of movie.
    fps : float
        Frame rate (constant-rate files).
    size : (width, height)
        Even numbers (H.264 with 4:2:0 chroma).
    sfreq : int
        Sampling rate of the soundtrack.
    frame_times : sequence of float or None
        Frame timestamps in seconds (increasing, from 0) for a variable-frame-rate
        file; overrides ``fps``/``duration`` for the picture.
    audio : bool
        Write a soundtrack.
    words : sequence of str or None
        Transcript words (cycled); default a fixed small vocabulary.
    seed : int
    video_codec, audio_codec : str or None
        FFmpeg encoder names; default by container (see above).
    crf : int
        H.264 quality (lower is better, 0 lossless).

    Returns
    -------
    Timeline
        The transcript: one event per word with its onset and offset.
    """
    import av

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _CODECS:
        raise BrainalignInputError(f"write_synthetic_movie writes {sorted(_CODECS)} files, not {path.name!r}.")
    width, height = (int(size[0]), int(size[1]))
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise BrainalignInputError(f"size must be two even numbers >= 16, got {size!r}.")
    if not (duration > 0 and fps > 0):
        raise BrainalignInputError(f"duration and fps must be positive, got {duration!r} and {fps!r}.")
    rng = np.random.default_rng(seed)
    vcodec, acodec = _CODECS[suffix]
    vcodec, acodec = video_codec or vcodec, audio_codec or acodec
    if frame_times is None:
        times = np.arange(int(round(duration * fps))) / float(fps)
    else:
        times = np.asarray(frame_times, dtype=float)
        if times.ndim != 1 or times.size == 0 or np.any(np.diff(times) <= 0) or times[0] < 0:
            raise BrainalignInputError("frame_times must be increasing seconds from 0.")
        duration = max(float(duration), float(times[-1]) + 1.0 / fps)
    transcript, envelope_times = _transcript(duration, rng, words)

    # Slowly varying scene parameters: low-pass filtered random walks sampled at the frame times.
    knots = np.arange(0.0, duration + 1.0, 0.5)
    hue = np.interp(times, knots, rng.uniform(0, 1, knots.size))
    light = np.interp(times, knots, rng.uniform(0.2, 0.9, knots.size))
    bar = np.interp(times, knots, rng.uniform(0, 1, knots.size))
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([np.sin(2 * np.pi * (xx / width + k / 3)) for k in range(3)], -1) * 0.15

    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format=_FORMATS[suffix]) as container:
            stream = container.add_stream(vcodec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            if vcodec == "libx264":
                stream.options = {"crf": str(int(crf)), "preset": "ultrafast"}
            if frame_times is not None:
                stream.codec_context.time_base = Fraction(1, 1000)
            astream = None
            if audio:
                astream = container.add_stream(acodec, rate=int(sfreq), layout="mono")
            for k, t in enumerate(times):
                colour = 0.5 + 0.35 * np.cos(2 * np.pi * (hue[k] + np.array([0.0, 1 / 3, 2 / 3])))
                image = np.clip(light[k] * colour + base, 0, 1)
                image[:, np.abs(xx[0] - bar[k] * width) < width / 10] = 1.0 - light[k]
                frame = av.VideoFrame.from_ndarray((image * 255).astype(np.uint8), format="rgb24")
                if frame_times is not None:
                    frame.pts = int(round(t * 1000))
                    frame.time_base = Fraction(1, 1000)
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
            if astream is not None:
                signal = _soundtrack(duration, int(sfreq), envelope_times, rng)
                block = 4096
                for start in range(0, signal.size, block):
                    part = signal[None, start:start + block]
                    frame = av.AudioFrame.from_ndarray(part, format="flt", layout="mono")
                    frame.sample_rate = int(sfreq)
                    frame.pts = start
                    frame.time_base = Fraction(1, int(sfreq))
                    container.mux(astream.encode(frame))
                container.mux(astream.encode(None))
    return transcript


_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi"}
_VOCABULARY = ("the", "light", "moves", "across", "a", "red", "room", "and", "then", "slowly", "fades", "into",
               "blue", "while", "music", "plays", "softly", "again")


def _transcript(duration: float, rng, words) -> tuple[Timeline, list[tuple[float, float]]]:
    """Words with onsets / offsets every ~0.4 s after a 0.3 s lead-in, and their syllable bursts."""
    vocabulary = list(words) if words else list(_VOCABULARY)
    tokens, onsets, offsets, bursts = [], [], [], []
    t, i = 0.3, 0
    while True:
        n_syllables = int(rng.integers(1, 3))
        length = 0.18 * n_syllables
        if t + length > duration - 0.1:
            break
        tokens.append(vocabulary[i % len(vocabulary)])
        onsets.append(t)
        offsets.append(t + length)
        for s in range(n_syllables):
            bursts.append((t + 0.18 * s, t + 0.18 * (s + 1) - 0.02))
        t += length + float(rng.uniform(0.1, 0.35))
        i += 1
    if not tokens:
        raise BrainalignInputError(f"duration={duration} s is too short for a transcript word.")
    return Timeline(tokens, onsets, offsets), bursts


def _soundtrack(duration: float, sfreq: int, bursts, rng) -> np.ndarray:
    t = np.arange(int(round(duration * sfreq))) / sfreq
    signal = 0.02 * np.sin(2 * np.pi * 110.0 * t)  # background hum
    for start, stop in bursts:
        sel = (t >= start) & (t < stop)
        local = t[sel] - start
        pitch = float(rng.uniform(150, 300))
        envelope = np.sin(np.pi * local / (stop - start)) ** 2
        signal[sel] += 0.4 * envelope * (np.sin(2 * np.pi * pitch * local) + 0.5 * np.sin(4 * np.pi * pitch * local))
    return signal.astype(np.float32)
