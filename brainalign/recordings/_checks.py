"""Checks that a timeline and a recording belong together (called by alignment)."""

from __future__ import annotations

import logging

import numpy as np

from ..core import BrainalignInputError, Recording, Timeline
from ..core.validation import check_events_in_runs
from ..core.validation import positive_or_zero

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
    brainalign.core._validation.BrainalignInputError: Run 'run-1': timeline event 0 ('a') starts at 25.000 s, at or after the end of the recording run (10 samples x 2 s = 20.000 s, tolerance 0 s); 1 event(s) of this run start that late. Check the timeline's clock (e.g. silence padding or discarded volumes; Timeline.shift) and the run labels.
    """
    if not isinstance(timeline, Timeline) or not isinstance(recording, Recording):
        raise BrainalignInputError(
            f"check_timeline_fits needs a Timeline and a Recording, got {type(timeline).__name__} and "
            f"{type(recording).__name__}."
        )
    tol = 0.0 if tolerance is None else positive_or_zero(tolerance, "tolerance")
    lengths = recording.run_lengths()
    index = check_events_in_runs(
        timeline, lengths, recording.sampling_period,
        allow_before_start=allow_before_start, tolerance=tol,
        recording_name=f"the recording of subject {recording.subject!r}",
    )
    for run, idx in index.items():
        duration = lengths[run] * recording.sampling_period
        n_long = int(np.sum(timeline.offsets[idx] > duration + tol))
        if n_long:
            logger.warning("Run %r: %d event(s) end after the recording run (%.3f s).", run, n_long, duration)
    empty = [run for run, idx in index.items() if idx.size == 0]
    if empty:
        logger.info("Recording run(s) %s have no events in the timeline.", empty)
