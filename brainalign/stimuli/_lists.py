"""Timelines of image / sound stimuli, and joining runs."""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..core import BrainalignInputError, Timeline
from ..core.validation import as_1d_float
from ._common import build_timeline


def _paths_and_onsets(paths, onsets, what: str, kind: str) -> tuple[list[str], np.ndarray]:
    """Stimulus paths as strings and one float onset per path, or a clear error."""
    if paths is None or isinstance(paths, (str, bytes, os.PathLike)) or not np.iterable(paths):
        raise BrainalignInputError(f"{what}: paths must be a list of {kind} files, got {type(paths).__name__}.")
    paths = [str(p) for p in paths]
    if not paths:
        raise BrainalignInputError(f"{what}: got an empty list of {kind} files.")
    onsets_arr = as_1d_float(onsets, f"{what}: onsets")
    if onsets_arr.shape != (len(paths),):
        raise BrainalignInputError(f"{what}: got {onsets_arr.size} onsets for {len(paths)} {kind} files.")
    return paths, onsets_arr


def _durations(durations, n: int, what: str) -> np.ndarray:
    try:
        arr = np.broadcast_to(np.asarray(durations, dtype=float), (n,)) if np.ndim(durations) == 0 else np.asarray(
            durations, dtype=float
        )
    except (TypeError, ValueError):
        raise BrainalignInputError(f"{what}: durations must be seconds (a number or one per stimulus), "
                                   f"got {durations!r}.") from None
    if arr.shape != (n,):
        raise BrainalignInputError(f"{what}: got {arr.size} durations for {n} stimuli.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise BrainalignInputError(f"{what}: durations must be >= 0, got {arr[arr < 0][:3].tolist()}.")
    return arr


def image_stimulus_list(
    paths: Sequence[str | os.PathLike],
    onsets: Sequence[float],
    durations: float | Sequence[float] = 0.0,
    run: str | None = None,
    check_exists: bool = True,
) -> Timeline:
    """Timeline of image presentations; each token is the image's path.

    Parameters
    ----------
    paths : sequence of path
        Image files in presentation order.
    onsets : sequence of float
        Presentation onsets (s, on the recording run's clock).
    durations : float or sequence of float
        Presentation durations; a scalar applies to every image.
    run : str or None
        Run label (default ``"run-1"``).
    check_exists : bool
        Raise if an image file is missing (the feature extractor would fail later).

    Examples
    --------
    >>> tl = image_stimulus_list(["a.png", "b.png"], [0.0, 2.0], 1.0, check_exists=False)
    >>> tl.offsets.tolist()
    [1.0, 3.0]
    """
    paths, onsets_arr = _paths_and_onsets(paths, onsets, "image_stimulus_list", "image")
    if check_exists:
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} image file(s) do not exist, e.g. {missing[:3]}.")
    dur = _durations(durations, len(paths), "image_stimulus_list")
    return build_timeline(paths, onsets_arr, onsets_arr + dur, run, source="image_stimulus_list")


def _wav_duration(path: str) -> float:
    try:
        with wave.open(path, "rb") as fh:
            return fh.getnframes() / float(fh.getframerate())
    except (wave.Error, EOFError) as exc:
        raise BrainalignInputError(
            f"Cannot read the duration of {path} ({exc}); only PCM WAV files are read here, "
            f"pass durations= for other formats."
        ) from None


def audio_stimulus_list(
    paths: Sequence[str | os.PathLike],
    onsets: Sequence[float],
    durations: float | Sequence[float] | None = None,
    run: str | None = None,
) -> Timeline:
    """Timeline of sound clips; each token is the sound file's path.

    ``durations=None`` reads each clip's length from its WAV header (other
    formats need explicit durations).

    Examples
    --------
    >>> tl = audio_stimulus_list(["a.flac", "b.flac"], [0.0, 5.0], durations=[4.0, 4.5])
    >>> tl.offsets.tolist()
    [4.0, 9.5]
    """
    paths, onsets_arr = _paths_and_onsets(paths, onsets, "audio_stimulus_list", "sound")
    if durations is None:
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} sound file(s) do not exist, e.g. {missing[:3]}.")
        dur = np.array([_wav_duration(p) for p in paths])
    else:
        dur = _durations(durations, len(paths), "audio_stimulus_list")
    return build_timeline(paths, onsets_arr, onsets_arr + dur, run, source="audio_stimulus_list")


def with_run(timeline: Timeline, run: str) -> Timeline:
    """The same events, all labelled ``run``."""
    if not isinstance(timeline, Timeline):
        raise BrainalignInputError(f"with_run expects a brainalign Timeline, got {type(timeline).__name__}.")
    return Timeline(timeline.tokens, timeline.onsets, timeline.offsets, np.full(timeline.n_events, str(run)))


def concatenate(
    timelines: Sequence[Timeline] | Mapping[str, Timeline],
    runs: Sequence[str] | None = None,
    offsets: float | Sequence[float] | Mapping[str, float] | None = None,
) -> Timeline:
    """Join per-run timelines into one multi-run timeline.

    Parameters
    ----------
    timelines : sequence of Timeline, or mapping run label -> Timeline
        One timeline per run (each may hold a single run).
    runs : sequence of str or None
        New run label for each timeline (every event of timeline ``i`` gets
        ``runs[i]``).  Default: keep the labels they have (a mapping's keys
        are used as labels).  Labels must not repeat.
    offsets : float, sequence of float, mapping or None
        Seconds added to the events of each run (e.g. ``-20.0`` for 20 s of
        silence before the story, or the number of discarded volumes × TR).

    Examples
    --------
    >>> a = Timeline(["x", "y"], [1.0, 2.0]); b = Timeline(["z"], [0.5])
    >>> tl = concatenate([a, b], runs=["story1", "story2"], offsets=[-1.0, 0.0])
    >>> tl.run_ids, tl.onsets.tolist()
    (['story1', 'story2'], [0.0, 1.0, 0.5])
    """
    if isinstance(timelines, Mapping):
        if runs is not None:
            raise BrainalignInputError("Pass run labels either as mapping keys or as runs=, not both.")
        runs = list(timelines)
        timelines = list(timelines.values())
    if timelines is None or isinstance(timelines, (str, Timeline)) or not np.iterable(timelines):
        raise BrainalignInputError(
            f"concatenate expects a list (or dict) of Timelines, got {type(timelines).__name__}."
        )
    timelines = list(timelines)
    if not timelines:
        raise BrainalignInputError("Cannot concatenate an empty list of timelines.")
    if runs is not None:
        runs = [str(r) for r in runs]
        if len(runs) != len(timelines):
            raise BrainalignInputError(f"Got {len(runs)} run labels for {len(timelines)} timelines.")
        if len(set(runs)) != len(runs):
            raise BrainalignInputError(f"Run labels repeat: {runs}.")
        timelines = [with_run(t, r) for t, r in zip(timelines, runs)]
    wrong = [type(t).__name__ for t in timelines if not isinstance(t, Timeline)]
    if wrong:
        raise BrainalignInputError(f"Can only concatenate Timelines, got {wrong[:3]}.")
    seen: dict[str, int] = {}
    for i, t in enumerate(timelines):
        for r in t.run_ids:
            if r in seen:
                raise BrainalignInputError(
                    f"Timelines {seen[r]} and {i} both hold run {r!r}; give each its own label with runs=."
                )
            seen[r] = i
    joined = Timeline.concatenate(timelines)
    if offsets is None:
        return joined
    if isinstance(offsets, Mapping):
        return joined.shift(dict(offsets))
    if np.ndim(offsets) == 0:
        return joined.shift(float(offsets))
    offsets = [float(o) for o in offsets]
    if len(offsets) != len(timelines):
        raise BrainalignInputError(f"Got {len(offsets)} offsets for {len(timelines)} timelines.")
    per_run: dict[str, float] = {}
    for t, off in zip(timelines, offsets):
        for r in t.run_ids:
            per_run[r] = off
    return joined.shift(per_run)
