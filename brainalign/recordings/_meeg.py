"""M/EEG through MNE: continuous recordings, annotations as timelines, BIDS, epochs."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, Recording, Timeline, hash_file
from ..core.validation import as_path, positive_or_zero, positive_seconds

logger = logging.getLogger("brainalign.recordings")


def read_raw(path: str | os.PathLike, **kwargs):
    """``mne.io.read_raw`` (FIF, EDF, BrainVision, EEGLAB, ...) with an error naming a bad file."""
    import mne

    path = as_path(path, "M/EEG")
    if not path.exists():
        raise FileNotFoundError(f"M/EEG file {path} does not exist.")
    try:
        return mne.io.read_raw(path, preload=True, verbose="error", **kwargs)
    except (ValueError, OSError, EOFError, KeyError, IndexError, TypeError, RuntimeError) as exc:
        raise BrainalignInputError(
            f"Cannot read M/EEG file {path}: {type(exc).__name__}: {exc} (unsupported, truncated or corrupt?)."
        ) from None


def _kind(info) -> str:
    types = set(info.get_channel_types())
    if types & {"mag", "grad"}:
        return "meg"
    if "eeg" in types:
        return "eeg"
    if types & {"seeg", "ecog", "dbs"}:
        return "ieeg"
    return "other"


def _sensor_recording(inst, data, sampling_period, runs, subject, metadata, on_bad_targets) -> Recording:
    """A Recording whose targets are the channels of the MNE object ``inst`` (Raw or Epochs)."""
    return Recording(
        data,
        sampling_period,
        runs=runs,
        target_names=list(inst.ch_names),
        kind=_kind(inst.info),
        space=inst.info,
        subject=subject,
        metadata=metadata,
        on_bad_targets=on_bad_targets,
    )


def load_meg_eeg(
    raw_or_path,
    *,
    picks="data",
    l_freq: float | None = None,
    h_freq: float | None = None,
    sfreq: float | None = None,
    expected_sfreq: float | None = None,
    run: str | None = None,
    subject: str = "sub-01",
    on_bad_targets: str = "raise",
):
    """A continuous M/EEG recording as a :class:`~brainalign.Recording` (samples x channels).

    Parameters
    ----------
    raw_or_path : mne.io.BaseRaw or path
        Anything ``mne.io.read_raw`` reads (FIF, EDF/BDF, BrainVision,
        EEGLAB ``.set``, ...).  A Raw passed in is copied, never modified.
    picks : str or list
        Channels to keep (MNE ``picks``: ``"data"``, ``"eeg"``, ``"meg"``, names).
    l_freq, h_freq : float or None
        Band-pass filter (``raw.filter``) before resampling.
    sfreq : float or None
        Resample to this rate (``raw.resample``, anti-aliased) after filtering.
    expected_sfreq : float or None
        The rate the file should have: a file recorded at another rate raises
        (the check happens before any resampling).
    run : str or None
        Run label (default ``run-1``).
    subject : str
        Participant label.

    Returns
    -------
    recording : Recording
        ``kind`` is ``"meg"`` when magnetometers / gradiometers are picked,
        else ``"eeg"`` (``"ieeg"`` for sEEG / ECoG / DBS channels only); ``space`` is ``raw.info`` after picking (for
        :meth:`~brainalign.Recording.to_evoked` topographies).  Sample 0 is
        the first sample of the raw (``raw.first_samp``).
    raw : mne.io.BaseRaw
        The processed copy (picked, filtered, resampled); its annotations
        feed :func:`events_timeline`.

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["Cz", "Pz"], 100.0, "eeg")
    >>> raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(2, 500)) * 1e-6, info, verbose="error")
    >>> rec, _ = load_meg_eeg(raw, sfreq=50.0)
    >>> rec.kind, rec.n_samples, rec.sampling_period
    ('eeg', 250, 0.02)
    """
    import mne

    source = None
    if isinstance(raw_or_path, (str, os.PathLike)):
        source = str(raw_or_path)
        raw = read_raw(raw_or_path)
    elif isinstance(raw_or_path, mne.io.BaseRaw):
        raw = raw_or_path.copy()
        if not raw.preload:
            raw.load_data(verbose="error")
    else:
        raise BrainalignInputError(f"Expected an mne Raw or a file path, got {type(raw_or_path).__name__}.")
    original_sfreq = float(raw.info["sfreq"])
    if expected_sfreq is not None and abs(original_sfreq - expected_sfreq) > 1e-6 * expected_sfreq:
        raise BrainalignInputError(
            f"{source or 'The raw recording'} is sampled at {original_sfreq} Hz, not the expected "
            f"{expected_sfreq} Hz; pass sfreq= to resample instead."
        )
    try:
        raw.pick(picks, verbose="error")
    except ValueError as exc:
        raise BrainalignInputError(f"picks={picks!r} selects no channel of {source or 'the raw'}: {exc}") from None
    nyquist = original_sfreq / 2
    for name, freq in (("l_freq", l_freq), ("h_freq", h_freq)):
        if freq is not None and not 0 < positive_or_zero(freq, name, unit="Hz") < nyquist:
            raise BrainalignInputError(
                f"{name}={freq!r} Hz is outside (0, {nyquist:g}) Hz, the range a recording sampled at "
                f"{original_sfreq:g} Hz allows."
            )
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise BrainalignInputError(f"l_freq={l_freq} Hz must be below h_freq={h_freq} Hz (the band kept is between them).")
    if sfreq is not None:
        sfreq = positive_seconds(sfreq, "sfreq", "the sampling rate to resample to, in Hz", unit="Hz")
    if l_freq is not None or h_freq is not None:
        raw.filter(l_freq, h_freq, verbose="error")
    if sfreq is not None and abs(sfreq - original_sfreq) > 1e-9:
        raw.resample(sfreq, verbose="error")
    data = raw.get_data().T.astype(np.float32)
    metadata = {
        "source": source,
        "file_sha256": hash_file(source) if source and Path(source).is_file() else None,
        "original_sfreq": original_sfreq,
        "l_freq": l_freq,
        "h_freq": h_freq,
        "first_time": float(raw.first_time),
        "bads": list(raw.info["bads"]),
    }
    recording = _sensor_recording(
        raw, data, 1.0 / float(raw.info["sfreq"]), None if run is None else np.full(data.shape[0], str(run)),
        subject, metadata, on_bad_targets,
    )
    return recording, raw


def events_timeline(
    raw,
    description: str | Sequence[str] | None = None,
    *,
    regexp: str | None = None,
    run: str | None = None,
) -> Timeline:
    """Annotations of a Raw as a :class:`~brainalign.Timeline` (token = annotation description).

    Onsets are seconds from the raw's first sample (``onset - raw.first_time``),
    the clock of :func:`load_meg_eeg`'s recording; offsets are onset + duration.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    description : str, list of str or None
        Keep annotations with these descriptions (an unknown one raises,
        listing those present).  ``None`` keeps all except ``BAD*`` / ``EDGE*``.
    regexp : str or None
        Alternatively, keep descriptions matching this regular expression.
    run : str or None
        Run label of the events.

    Examples
    --------
    >>> import mne, numpy as np
    >>> raw = mne.io.RawArray(np.zeros((1, 1000)), mne.create_info(1, 100.0, "eeg"), verbose="error")
    >>> _ = raw.set_annotations(mne.Annotations([1.0, 2.5, 4.0], [0.5, 0, 0], ["word", "BAD_blink", "word"]))
    >>> events_timeline(raw).onsets.tolist()
    [1.0, 4.0]
    """
    annotations = getattr(raw, "annotations", None)
    if annotations is None:
        raise BrainalignInputError(f"events_timeline needs an mne Raw with annotations, got {type(raw).__name__}.")
    descriptions = np.array([str(d) for d in annotations.description], dtype=object)
    present = sorted(set(descriptions))
    if description is not None and regexp is not None:
        raise BrainalignInputError("Pass description= or regexp=, not both.")
    if description is not None:
        wanted = [description] if isinstance(description, str) else list(description)
        unknown = [d for d in wanted if d not in present]
        if unknown:
            raise BrainalignInputError(
                f"No annotation called {unknown} in this recording; descriptions present are {present}."
            )
        keep = np.isin(descriptions, wanted)
    elif regexp is not None:
        try:
            pattern = re.compile(regexp)
        except re.error as exc:
            raise BrainalignInputError(f"regexp {regexp!r} is not a valid regular expression: {exc}.") from None
        keep = np.array([bool(pattern.search(d)) for d in descriptions], dtype=bool)
        if not keep.any():
            raise BrainalignInputError(f"No annotation matches {regexp!r}; descriptions present are {present}.")
    else:
        keep = np.array([not d.upper().startswith(("BAD", "EDGE")) for d in descriptions], dtype=bool)
        if not keep.any():
            raise BrainalignInputError(f"The recording has no (non-BAD) annotations; present: {present}.")
    onsets = np.asarray(annotations.onset, dtype=float)[keep] - float(raw.first_time)
    durations = np.asarray(annotations.duration, dtype=float)[keep]
    order = np.argsort(onsets, kind="stable")
    try:
        return Timeline(descriptions[keep][order], onsets[order], onsets[order] + durations[order], run)
    except BrainalignInputError as exc:
        raise BrainalignInputError(f"Annotations of the raw: {exc}") from None


def load_bids_meg_eeg(
    bids_root: str | os.PathLike,
    subject: str,
    task: str,
    run: str | None = None,
    session: str | None = None,
    datatype: str = "meg",
    **kwargs,
):
    """Read one BIDS M/EEG run with ``mne_bids.read_raw_bids`` and load it with :func:`load_meg_eeg`.

    ``events.tsv`` becomes the raw's annotations, so :func:`events_timeline`
    gives its events.  Extra keyword arguments go to :func:`load_meg_eeg`.

    Returns
    -------
    recording : Recording
        Subject ``sub-<subject>``, run label ``run-<run>`` (or ``task-<task>``).
    raw : mne.io.BaseRaw
    """
    from mne_bids import BIDSPath, read_raw_bids

    bids_root = Path(bids_root)
    if not bids_root.is_dir():
        raise FileNotFoundError(f"BIDS root {bids_root} does not exist.")
    path = BIDSPath(subject=subject, session=session, task=task, run=run, datatype=datatype, root=bids_root)
    matches = path.match()
    data_matches = [m for m in matches if m.suffix == datatype]
    if not data_matches:
        raise BrainalignInputError(
            f"No {datatype} recording for sub-{subject} task-{task}"
            f"{'' if run is None else f' run-{run}'} under {bids_root}."
        )
    if len(data_matches) > 1:
        raise BrainalignInputError(
            f"{len(data_matches)} recordings match; give run= / session=: {[m.basename for m in data_matches]}."
        )
    raw = read_raw_bids(data_matches[0], verbose="error")
    label = f"run-{run}" if run is not None else f"task-{task}"
    kwargs.setdefault("run", label)
    kwargs.setdefault("subject", f"sub-{subject}")
    return load_meg_eeg(raw, **kwargs)


def epochs_recording(
    epochs,
    *,
    picks="data",
    window: tuple[float, float] | None = None,
    first_samp: int = 0,
    run: str | None = None,
    subject: str = "sub-01",
    on_bad_targets: str = "raise",
):
    """Epoched M/EEG as a Recording, plus the matching Timeline, in one of two layouts.

    **Time-resolved** (``window=None``): each epoch becomes a run
    ``epoch-0000``, ``epoch-0001``, ... whose sample 0 is the epoch's first
    sample (``tmin``); the timeline holds one event per epoch, the trigger,
    at ``-tmin`` seconds on that run's clock, labelled with its
    ``event_id`` name.  Alignment builds lagged (TRF) designs run by run, so
    lags never leak across epochs, and cross-validation grouped by run keeps
    each epoch whole in one fold.  Use lags that fit inside ``tmax - tmin``.

    **One row per epoch** (``window=(t0, t1)``): the mean of each channel
    over ``t0 <= t <= t1`` (s, relative to the trigger), one run (``run``,
    default ``run-1``), nominal sampling period 1.0.  The timeline has one
    event per epoch, from the trigger to the trigger + ``tmax`` on the raw's
    clock (pass ``first_samp=raw.first_samp``), which is what
    :func:`brainalign.alignment.epoch_design` expects: the stimulus events
    inside each epoch's span are pooled into that epoch's design row.

    Returns
    -------
    recording : Recording
        ``kind`` ``"eeg"`` or ``"meg"``, ``space`` the epochs' ``info``.
    timeline : Timeline

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["Cz", "Pz"], 100.0, "eeg")
    >>> data = np.random.default_rng(0).normal(size=(3, 2, 50)) * 1e-6
    >>> ep = mne.EpochsArray(data, info, tmin=-0.1, events=np.array([[10, 0, 1], [70, 0, 2], [130, 0, 1]]),
    ...                      event_id={"a": 1, "b": 2}, verbose="error")
    >>> rec, tl = epochs_recording(ep)
    >>> rec.run_ids[:2], list(tl.tokens), tl.onsets[:1].round(3).tolist()
    (['epoch-0000', 'epoch-0001'], ['a', 'b', 'a'], [0.1])
    >>> rec, tl = epochs_recording(ep, window=(0.1, 0.3))
    >>> rec.data.shape, tl.onsets.tolist()
    ((3, 2), [0.1, 0.7, 1.3])
    """
    import mne

    if not isinstance(epochs, mne.BaseEpochs):
        raise BrainalignInputError(f"Expected mne Epochs, got {type(epochs).__name__}.")
    try:
        epochs = epochs.copy().pick(picks, verbose="error")
    except ValueError as exc:
        raise BrainalignInputError(f"picks={picks!r} selects no channel of the epochs: {exc}") from None
    data = epochs.get_data(copy=True)  # (n_epochs, n_channels, n_times)
    n_epochs, _, n_times = data.shape
    if n_epochs == 0:
        raise BrainalignInputError("The epochs object holds no epochs (all dropped?).")
    code_to_name = {code: name for name, code in epochs.event_id.items()}
    tokens = [code_to_name.get(int(code), str(code)) for code in epochs.events[:, 2]]
    sfreq = float(epochs.info["sfreq"])
    metadata = {"epochs": {"tmin": float(epochs.tmin), "tmax": float(epochs.tmax), "n_epochs": n_epochs,
                           "event_id": dict(epochs.event_id), "window": window}}
    if window is not None:
        try:
            t0, t1 = (float(w) for w in window)
        except (TypeError, ValueError):
            raise BrainalignInputError(f"window must be (start, stop) in seconds, got {window!r}.") from None
        in_window = (epochs.times >= t0 - 1e-9) & (epochs.times <= t1 + 1e-9)
        if not in_window.any():
            raise BrainalignInputError(
                f"window {window} holds no sample of the epochs ({epochs.tmin:g} to {epochs.tmax:g} s)."
            )
        label = "run-1" if run is None else str(run)
        recording = _sensor_recording(
            epochs, data[:, :, in_window].mean(axis=2).astype(np.float32), 1.0, np.full(n_epochs, label),
            subject, metadata, on_bad_targets,
        )
        onsets = (epochs.events[:, 0] - int(first_samp)) / sfreq
        timeline = Timeline(tokens, onsets, onsets + max(float(epochs.tmax), 0.0), np.full(n_epochs, label))
        return recording, timeline
    width = max(4, len(str(n_epochs - 1)))
    labels = [f"epoch-{i:0{width}d}" for i in range(n_epochs)]
    recording = _sensor_recording(
        epochs, data.transpose(0, 2, 1).reshape(n_epochs * n_times, -1).astype(np.float32), 1.0 / sfreq,
        np.repeat(labels, n_times), subject, metadata, on_bad_targets,
    )
    timeline = Timeline(tokens, np.full(n_epochs, -float(epochs.tmin)), None, labels)
    return recording, timeline
