"""Checks that a timeline and a recording belong together (called by alignment)."""

from __future__ import annotations

import logging

import numpy as np

from ..core import BrainalignInputError, Recording, Timeline

logger = logging.getLogger("brainalign.recordings")


def check_timeline_fits(
    timeline: Timeline,
    recording: Recording,
    *,
    allow_before_start: bool = False,
    tolerance: float | None = None,
) -> None:
    """Raise unless every event of ``timeline`` falls on a run of ``recording``.

    Checks, per run: the timeline's run exists in the recording; no onset is
    before the first sample (time 0) unless ``allow_before_start``; no onset
    is at or after the run's end (``n_samples * sampling_period``, plus
    ``tolerance``).  Offsets past the end only log a warning (the last word
    may outlast the last scan).  Recording runs without any event are logged.

    Parameters
    ----------
    timeline : Timeline
    recording : Recording
    allow_before_start : bool
        Accept events before time 0 (a stimulus that began before the first
        kept volume still shapes the HRF-convolved signal).
    tolerance : float or None
        Seconds of slack at both ends; default 0.

    Examples
    --------
    >>> import numpy as np
    >>> rec = Recording(np.random.default_rng(0).normal(size=(10, 2)), sampling_period=2.0)
    >>> check_timeline_fits(Timeline(["a"], [3.0]), rec)
    >>> check_timeline_fits(Timeline(["a"], [25.0]), rec)
    Traceback (most recent call last):
    ...
    brainalign.core._validation.BrainalignInputError: Run 'run-1': event 0 ('a') starts at 25.000 s, at or after the end of the recording run (20.000 s, 10 samples of 2.0 s). Check the time offset (e.g. silence padding or discarded volumes) and the run labels.
    """
    if not isinstance(timeline, Timeline) or not isinstance(recording, Recording):
        raise BrainalignInputError(
            f"check_timeline_fits needs a Timeline and a Recording, got {type(timeline).__name__} and "
            f"{type(recording).__name__}."
        )
    tol = 0.0 if tolerance is None else float(tolerance)
    unknown = [r for r in timeline.run_ids if r not in recording.run_ids]
    if unknown:
        raise BrainalignInputError(
            f"Timeline has events on run(s) {unknown} that the recording of subject {recording.subject!r} "
            f"does not have; its runs are {recording.run_ids}."
        )
    lengths = recording.run_lengths()
    for run in timeline.run_ids:
        sl = timeline.run_slice(run)
        onsets, offsets, tokens = timeline.onsets[sl], timeline.offsets[sl], timeline.tokens[sl]
        duration = lengths[run] * recording.sampling_period
        if not allow_before_start and np.any(onsets < -tol):
            i = int(np.flatnonzero(onsets < -tol)[0])
            raise BrainalignInputError(
                f"Run {run!r}: event {sl.start + i} ({tokens[i]!r}) starts at {onsets[i]:.3f} s, before the "
                f"first sample (0 s). Shift the timeline onto the recording's clock, or pass "
                f"allow_before_start=True if the stimulus really began before the first kept sample."
            )
        late = onsets >= duration + tol
        if np.any(late):
            i = int(np.flatnonzero(late)[0])
            raise BrainalignInputError(
                f"Run {run!r}: event {sl.start + i} ({tokens[i]!r}) starts at {onsets[i]:.3f} s, at or after "
                f"the end of the recording run ({duration:.3f} s, {lengths[run]} samples of "
                f"{recording.sampling_period} s). Check the time offset (e.g. silence padding or discarded "
                f"volumes) and the run labels."
            )
        if np.any(offsets > duration + tol):
            logger.warning(
                "Run %r: %d event(s) end after the recording run (%.3f s).", run,
                int(np.sum(offsets > duration + tol)), duration,
            )
    empty = [r for r in recording.run_ids if r not in timeline.run_ids]
    if empty:
        logger.info("Recording run(s) %s have no events in the timeline.", empty)
