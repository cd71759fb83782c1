"""Word / event timelines: what was presented, when, and in which run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ._io import hash_array
from ._validation import (
    BrainalignInputError,
    as_1d_float,
    check_finite,
    check_runs_contiguous,
    check_same_length,
    ordered_unique,
    run_labels,
)


@dataclass(frozen=True, eq=False)
class Timeline:
    """A sequence of stimulus events (words, images, sounds) with their times.

    Times are in seconds on the clock of the recording run they belong to
    (time 0 = the first kept sample of that run).  Within a run, onsets must be
    non-decreasing; runs occupy contiguous blocks of events.

    Parameters
    ----------
    tokens : sequence of str
        What was presented: a word, an image path, a sound label.
    onsets, offsets : array-like of float, shape (n_events,)
        Start and end of each event in seconds.  ``offsets=None`` makes
        zero-duration events.
    runs : sequence of str or None
        Run / story label of each event; ``None`` means one run ``"run-1"``.

    Examples
    --------
    >>> tl = Timeline(["Once", "upon", "a", "time"], onsets=[0.0, 0.3, 0.6, 0.7])
    >>> tl.n_events, tl.run_ids
    (4, ['run-1'])
    """

    tokens: np.ndarray
    onsets: np.ndarray
    offsets: np.ndarray = None  # type: ignore[assignment]
    runs: np.ndarray = None  # type: ignore[assignment]
    _key: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        if self.tokens is None:
            raise BrainalignInputError("Timeline tokens are missing (None); give one label per event.")
        if isinstance(self.tokens, (str, bytes)) or not np.iterable(self.tokens):
            raise BrainalignInputError(
                f"Timeline tokens must be a sequence with one label per event, got {type(self.tokens).__name__}."
            )
        tokens = np.array([str(t) for t in self.tokens], dtype=object)
        onsets = as_1d_float(self.onsets, "onsets")
        check_same_length("tokens", tokens.size, "onsets", onsets.size)
        offsets = onsets.copy() if self.offsets is None else as_1d_float(self.offsets, "offsets")
        check_same_length("onsets", onsets.size, "offsets", offsets.size)
        check_finite(onsets, "onsets")
        check_finite(offsets, "offsets")
        runs = run_labels(self.runs, onsets.size)
        if np.any(offsets < onsets):
            i = int(np.flatnonzero(offsets < onsets)[0])
            raise BrainalignInputError(
                f"Event {i} ({tokens[i]!r}) ends before it starts: onset {onsets[i]:.3f} s, "
                f"offset {offsets[i]:.3f} s."
            )
        check_runs_contiguous(runs, "Timeline")
        for run in ordered_unique(runs):
            idx = np.flatnonzero(runs == run)
            steps = np.diff(onsets[idx])
            if np.any(steps < 0):
                j = int(np.flatnonzero(steps < 0)[0])
                a, b = idx[j], idx[j + 1]
                raise BrainalignInputError(
                    f"Onsets are not sorted in run {run!r}: event {b} ({tokens[b]!r}) starts at "
                    f"{onsets[b]:.3f} s, before event {a} ({tokens[a]!r}) at {onsets[a]:.3f} s."
                )
        for name, value in (("tokens", tokens), ("onsets", onsets), ("offsets", offsets), ("runs", runs)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ basics
    @property
    def n_events(self) -> int:
        return int(self.onsets.size)

    def __len__(self) -> int:
        return self.n_events

    @property
    def run_ids(self) -> list[str]:
        """Run labels in order of first appearance."""
        return ordered_unique(self.runs)

    @property
    def durations(self) -> np.ndarray:
        return self.offsets - self.onsets

    def run_slice(self, run: str) -> slice:
        """Row slice of one run's events."""
        idx = np.flatnonzero(self.runs == run)
        if idx.size == 0:
            raise BrainalignInputError(f"Unknown run {run!r}; this timeline has runs {self.run_ids}.")
        return slice(int(idx[0]), int(idx[-1]) + 1)

    def select(self, mask_or_index) -> "Timeline":
        """A new timeline with a subset of events (boolean mask or integer index)."""
        idx = mask_or_index if isinstance(mask_or_index, slice) else np.asarray(mask_or_index)
        return Timeline(self.tokens[idx], self.onsets[idx], self.offsets[idx], self.runs[idx])

    def split_by_run(self) -> dict[str, "Timeline"]:
        return {run: self.select(self.run_slice(run)) for run in self.run_ids}

    def shift(self, offsets: float | Mapping[str, float]) -> "Timeline":
        """Add a time offset (seconds) to every event, or per run with a mapping.

        Use it for silence padding or discarded volumes: e.g. ``shift(-20.0)``
        when audio starts 20 s before the first kept scan.
        """
        if isinstance(offsets, Mapping):
            unknown = set(offsets) - set(self.run_ids)
            if unknown:
                raise BrainalignInputError(
                    f"Offsets given for unknown run(s) {sorted(unknown)}; runs are {self.run_ids}."
                )
            per_event = np.array([float(offsets.get(r, 0.0)) for r in self.runs])
        else:
            per_event = np.full(self.n_events, float(offsets))
        return Timeline(self.tokens, self.onsets + per_event, self.offsets + per_event, self.runs)

    def text(self, run: str | None = None, sep: str = " ") -> str:
        """Tokens of one run (or the only run) joined into running text."""
        if run is None:
            if len(self.run_ids) != 1:
                raise BrainalignInputError(
                    f"This timeline has {len(self.run_ids)} runs; pass run= one of {self.run_ids}."
                )
            run = self.run_ids[0]
        return sep.join(self.tokens[self.run_slice(run)])

    @property
    def content_hash(self) -> str:
        """SHA-256 over tokens, times and runs (used in cache keys)."""
        if not self._key:
            parts = [hash_array(a) for a in (self.tokens, self.onsets, self.offsets, self.runs)]
            object.__setattr__(self, "_key", hash_array(np.array(parts, dtype=object)))
        return self._key

    # -------------------------------------------------------------- conversion
    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"token": self.tokens, "onset": self.onsets, "offset": self.offsets, "run": self.runs}
        )

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        token_col: str = "token",
        onset_col: str = "onset",
        offset_col: str | None = "offset",
        duration_col: str | None = None,
        run_col: str | None = "run",
    ) -> "Timeline":
        """Build from a table; ``duration_col`` may replace ``offset_col``."""
        missing = [c for c in (token_col, onset_col) if c not in frame.columns]
        if missing:
            raise BrainalignInputError(
                f"Missing column(s) {missing}; the table has {list(frame.columns)}."
            )
        onsets = frame[onset_col].to_numpy(dtype=float)
        if duration_col is not None and duration_col in frame.columns:
            offsets = onsets + frame[duration_col].to_numpy(dtype=float)
        elif offset_col is not None and offset_col in frame.columns:
            offsets = frame[offset_col].to_numpy(dtype=float)
        else:
            offsets = None
        runs = frame[run_col].to_numpy() if run_col is not None and run_col in frame.columns else None
        return cls(frame[token_col].to_numpy(), onsets, offsets, runs)

    @classmethod
    def concatenate(cls, timelines: Iterable["Timeline"]) -> "Timeline":
        """Join timelines of different runs into one (run labels must not repeat)."""
        if timelines is None or not np.iterable(timelines):
            raise BrainalignInputError(f"Expected a list of Timelines, got {type(timelines).__name__}.")
        timelines = list(timelines)
        if not timelines:
            raise BrainalignInputError("Cannot concatenate an empty list of timelines.")
        wrong = [type(t).__name__ for t in timelines if not isinstance(t, Timeline)]
        if wrong:
            raise BrainalignInputError(f"Can only concatenate Timelines, got {wrong[:3]}.")
        return cls(
            np.concatenate([t.tokens for t in timelines]),
            np.concatenate([t.onsets for t in timelines]),
            np.concatenate([t.offsets for t in timelines]),
            np.concatenate([t.runs for t in timelines]),
        )

    def __repr__(self) -> str:
        return f"Timeline(n_events={self.n_events}, runs={self.run_ids})"


def check_events_in_runs(
    timeline: Timeline,
    run_lengths: Mapping[str, int],
    sampling_period: float,
    *,
    allow_before_start: bool = False,
    tolerance: float = 0.0,
    allow_onset_at_end: bool = False,
    what: str = "timeline",
    recording_name: str = "the recording",
) -> dict[str, np.ndarray]:
    """Indices of the events of every recording run, after checking that they fall on it.

    The one check behind :func:`brainalign.recordings.check_timeline_fits` and
    the alignment functions.  A run ``r`` with ``n`` samples covers
    ``[0, n * sampling_period)`` on its own clock.  Raises a
    :class:`BrainalignInputError` when the timeline has a run the recording
    lacks, when an onset is before ``-tolerance`` (unless
    ``allow_before_start``), or when an onset is at or after the run's end
    plus ``tolerance`` (only *after* it with ``allow_onset_at_end``).

    Parameters
    ----------
    timeline : Timeline
    run_lengths : mapping of str to int
        Samples per recording run, in run order.
    sampling_period : float
        Seconds between samples.
    allow_before_start : bool
        Accept onsets before time 0.
    tolerance : float
        Seconds of slack at both ends.
    allow_onset_at_end : bool
        Accept an onset exactly at the run's end plus ``tolerance``.
    what, recording_name : str
        How error messages name the events' source and the recording.

    Returns
    -------
    dict of str to ndarray
        For every run of ``run_lengths`` (in order), the indices of its events
        in ``timeline``; empty for runs without events.
    """
    run_ids = list(run_lengths)
    unknown = [r for r in timeline.run_ids if r not in run_lengths]
    if unknown:
        raise BrainalignInputError(
            f"There are {what} events in run(s) {unknown} that {recording_name} does not have; the "
            f"recording's runs are {run_ids}. Rename the runs so that they match (a timeline's run r "
            "is aligned to the recording's run r)."
        )
    index: dict[str, np.ndarray] = {}
    for run in run_ids:
        idx = np.flatnonzero(timeline.runs == run)
        onsets = timeline.onsets[idx]
        if not allow_before_start and np.any(onsets < -tolerance):
            first = int(idx[np.flatnonzero(onsets < -tolerance)[0]])
            raise BrainalignInputError(
                f"Run {run!r}: {what} event {first} ({timeline.tokens[first]!r}) starts at "
                f"{timeline.onsets[first]:.3f} s, before the first sample (0 s). Shift the timeline onto "
                "the recording's clock, or pass allow_before_start=True if the stimulus really began "
                "before the first kept sample."
            )
        duration = run_lengths[run] * sampling_period
        end = duration + tolerance
        late = idx[onsets > end] if allow_onset_at_end else idx[onsets >= end]
        if late.size:
            first = int(late[0])
            raise BrainalignInputError(
                f"Run {run!r}: {what} event {first} ({timeline.tokens[first]!r}) starts at "
                f"{timeline.onsets[first]:.3f} s, {'' if allow_onset_at_end else 'at or '}after the end of "
                f"the recording run ({run_lengths[run]} samples x {sampling_period:g} s = {duration:.3f} s, "
                f"tolerance {tolerance:g} s); {late.size} event(s) of this run start that late. Check the "
                "timeline's clock (e.g. silence padding or discarded volumes; Timeline.shift) and the run "
                "labels."
            )
        index[run] = idx
    return index
