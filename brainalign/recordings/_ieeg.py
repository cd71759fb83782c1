"""Intracranial recordings (sEEG / ECoG) through MNE and mne-bids.

Re-referencing (bipolar on each shaft, common average, Laplacian), line-noise
notch, the high-gamma (70-150 Hz) analytic-amplitude envelope, event-locked
multi-bin targets, electrode coordinates and atlas labels.  Channel types stay
``seeg`` / ``ecog`` in the MNE objects; the :class:`~brainalign.Recording`
kind is ``"ieeg"`` (cross-validation gaps and lags as for M/EEG) and
``metadata["ieeg"]`` records what was done.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, Recording, Timeline
from ._meeg import load_meg_eeg, read_raw

logger = logging.getLogger("brainalign.recordings")

#: intracranial channel types MNE knows
IEEG_TYPES = ("seeg", "ecog", "dbs")
#: default high-gamma sub-bands (Hz): averaging normalised sub-band envelopes flattens the 1/f slope
HIGH_GAMMA_BANDS = ((70.0, 90.0), (90.0, 110.0), (110.0, 130.0), (130.0, 150.0))
REFERENCES = ("bipolar", "average", "laplacian", None)

_CONTACT = re.compile(r"^(?P<shaft>.*?[^\d\s])[\s_-]*(?P<number>\d+)$")


def shaft_contacts(ch_names: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
    """Channels grouped by shaft (electrode) from names like ``LA1, LA2`` or ``RH 10``, contacts in order.

    Examples
    --------
    >>> shaft_contacts(["LA2", "LA1", "RH10", "RH9", "Ref"])
    {'LA': [(1, 'LA1'), (2, 'LA2')], 'RH': [(9, 'RH9'), (10, 'RH10')]}
    """
    shafts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name in ch_names:
        m = _CONTACT.match(str(name).strip())
        if m:
            shafts[m.group("shaft")].append((int(m.group("number")), str(name)))
    return {k: sorted(v) for k, v in shafts.items()}


def _ieeg_picks(raw) -> list[str]:
    types = raw.get_channel_types()
    names = [n for n, t in zip(raw.ch_names, types) if t in IEEG_TYPES and n not in raw.info["bads"]]
    if not names:
        raise BrainalignInputError(
            f"The recording has no good sEEG/ECoG channel (types {sorted(set(types))}); set the types with "
            "raw.set_channel_types({'LA1': 'seeg', ...})."
        )
    return names


def _with_data(raw, data: np.ndarray):
    """A Raw like ``raw`` (info, first sample, annotations) holding ``data`` (public MNE API, no ``_data``)."""
    import mne

    out = mne.io.RawArray(data, raw.info.copy(), first_samp=raw.first_samp, verbose="error")
    out.set_annotations(raw.annotations)
    return out


def _bipolar_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for contacts in shaft_contacts(names).values():
        for (n1, a), (n2, b) in zip(contacts[:-1], contacts[1:]):
            if n2 == n1 + 1:  # a missing (bad) contact breaks the chain rather than pairing distant contacts
                pairs.append((a, b))
    return pairs


def rereference_ieeg(raw, method: str | None = "bipolar"):
    """A re-referenced copy of an intracranial Raw (good sEEG/ECoG channels only).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        With channel types ``seeg`` / ``ecog``; names ``<shaft><number>``.
    method : {"bipolar", "average", "laplacian", None}
        ``"bipolar"``: neighbouring contacts of one shaft subtracted
        (``LA1-LA2``, ...), located at their midpoint; ``"average"``: common
        average over the good intracranial channels; ``"laplacian"``: each
        contact minus the mean of its neighbours on the shaft (end contacts:
        the one neighbour); ``None``: unchanged.  Bipolar and Laplacian treat
        every name prefix as a 1-D shaft or strip: on an ECoG *grid* (``G1``
        ... ``G64``) the last contact of a row would pair with the first of the
        next, so use ``"average"`` there.

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["LA1", "LA2", "LA3"], 100.0, "seeg")
    >>> raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(3, 200)), info, verbose="error")
    >>> rereference_ieeg(raw, "bipolar").ch_names
    ['LA1-LA2', 'LA2-LA3']
    """
    import mne

    if not isinstance(raw, mne.io.BaseRaw):
        raise BrainalignInputError(f"rereference_ieeg needs an mne Raw, got {type(raw).__name__}.")
    if method not in REFERENCES:
        raise BrainalignInputError(f"reference={method!r} is not one of {REFERENCES}.")
    raw = raw.copy().load_data(verbose="error")
    picks = _ieeg_picks(raw)
    raw.pick(picks, verbose="error")
    if method is None:
        return raw
    if method == "average":
        data = raw.get_data()
        return _with_data(raw, data - data.mean(0, keepdims=True))
    positions = {ch["ch_name"]: np.asarray(ch["loc"][:3], dtype=float) for ch in raw.info["chs"]}
    if method == "bipolar":
        pairs = _bipolar_pairs(picks)
        if not pairs:
            raise BrainalignInputError(
                f"No neighbouring contacts found for bipolar re-referencing among {picks[:6]}...; names must be "
                "<shaft><number> (LA1, LA2, ...). Use reference='average' otherwise."
            )
        out = mne.set_bipolar_reference(raw, [a for a, _ in pairs], [b for _, b in pairs], drop_refs=True,
                                        copy=True, verbose="error")
        out.pick([f"{a}-{b}" for a, b in pairs], verbose="error")
        for ch in out.info["chs"]:
            a, b = ch["ch_name"].split("-", 1)
            ch["loc"][:3] = (positions[a] + positions[b]) / 2.0
        return out
    # laplacian: neighbours on the shaft, from the contact numbers
    data = raw.get_data()
    index = {n: i for i, n in enumerate(raw.ch_names)}
    new = data.copy()
    for contacts in shaft_contacts(picks).values():
        numbers = {num: name for num, name in contacts}
        for num, name in contacts:
            neigh = [numbers[k] for k in (num - 1, num + 1) if k in numbers]
            if neigh:
                new[index[name]] = data[index[name]] - data[[index[n] for n in neigh]].mean(0)
    return _with_data(raw, new)


def high_gamma_envelope(raw, bands: Sequence[tuple[float, float]] = HIGH_GAMMA_BANDS):
    """Copy of ``raw`` holding the high-gamma analytic amplitude (mean of normalised sub-band envelopes).

    Each sub-band is band-pass filtered (FIR, ``raw.filter``), its Hilbert
    amplitude taken and divided by its mean over time (so that lower sub-bands
    with more 1/f power do not dominate), and the sub-bands are averaged.
    The envelope is slow: resample afterwards (``load_ieeg(sfreq=...)`` does).

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["LA1"], 500.0, "seeg")
    >>> raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(1, 2000)), info, verbose="error")
    >>> env = high_gamma_envelope(raw)
    >>> bool(abs(env.get_data().mean() - 1.0) < 1e-6)
    True
    """
    sfreq = float(raw.info["sfreq"])
    bands = [tuple(float(f) for f in b) for b in bands]
    for lo, hi in bands:
        if not 0 < lo < hi < sfreq / 2:
            raise BrainalignInputError(
                f"high-gamma band ({lo:g}, {hi:g}) Hz must satisfy 0 < low < high < Nyquist ({sfreq / 2:g} Hz); "
                "record at >= 2.5x the top band or pass narrower bands."
            )
    total = None
    for lo, hi in bands:
        band = raw.copy().filter(lo, hi, verbose="error").apply_hilbert(envelope=True, verbose="error")
        env = band.get_data()
        env = env / np.maximum(env.mean(axis=1, keepdims=True), 1e-30)
        total = env if total is None else total + env
    return _with_data(raw, total / len(bands))


def load_ieeg(
    raw_or_path,
    *,
    reference: str | None = "bipolar",
    line_freq: float | None = None,
    high_gamma: bool | Sequence[tuple[float, float]] = False,
    sfreq: float | None = None,
    l_freq: float | None = None,
    h_freq: float | None = None,
    run: str | None = None,
    subject: str = "sub-01",
    on_bad_targets: str = "raise",
):
    """An sEEG/ECoG recording as a :class:`~brainalign.Recording`: re-referenced, notched, optionally high gamma.

    Order: pick the good ``seeg``/``ecog`` channels -> notch ``line_freq`` and
    its harmonics -> re-reference -> high-gamma envelope (``high_gamma=True``
    or a list of sub-bands) -> band-pass ``l_freq``/``h_freq`` and resample to
    ``sfreq`` (:func:`load_meg_eeg`).

    Returns
    -------
    recording : Recording
        Targets are the (re-referenced) channels; ``space`` their ``info``
        (positions kept: :func:`electrode_table`); ``kind`` ``"ieeg"``, so
        cross-validation gaps follow the M/EEG rule (the design's longest lag,
        1 s without lags), not fMRI's 20 s.
    raw : mne.io.BaseRaw
        The processed copy.

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["LA1", "LA2", "LA3"], 500.0, "seeg")
    >>> raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(3, 5000)), info, verbose="error")
    >>> rec, _ = load_ieeg(raw, line_freq=50.0, high_gamma=True, sfreq=50.0)
    >>> rec.target_names, rec.sampling_period
    (['LA1-LA2', 'LA2-LA3'], 0.02)
    """
    import mne

    source = str(raw_or_path) if isinstance(raw_or_path, (str, os.PathLike)) else None
    if source is not None:
        raw = read_raw(raw_or_path)
    elif isinstance(raw_or_path, mne.io.BaseRaw):
        raw = raw_or_path.copy().load_data(verbose="error")
    else:
        raise BrainalignInputError(f"Expected an mne Raw or a file path, got {type(raw_or_path).__name__}.")
    raw.pick(_ieeg_picks(raw), verbose="error")
    nyquist = raw.info["sfreq"] / 2
    if line_freq is not None:
        line_freq = float(line_freq)
        if not 0 < line_freq < nyquist:
            raise BrainalignInputError(f"line_freq={line_freq!r} Hz must be in (0, {nyquist:g}) Hz (50 or 60).")
        raw.notch_filter(np.arange(line_freq, nyquist, line_freq), verbose="error")
    raw = rereference_ieeg(raw, reference)
    bands = None
    if high_gamma is not False and high_gamma is not None:
        bands = HIGH_GAMMA_BANDS if high_gamma is True else high_gamma
        raw = high_gamma_envelope(raw, bands)
    recording, raw = load_meg_eeg(raw, picks="all", l_freq=l_freq, h_freq=h_freq, sfreq=sfreq, run=run,
                                  subject=subject, on_bad_targets=on_bad_targets)
    recording.metadata["source"] = source
    recording.metadata["ieeg"] = {
        "reference": reference, "line_freq": line_freq,
        "high_gamma_bands": None if bands is None else [list(b) for b in bands],
        "channel_types": sorted(set(raw.get_channel_types())),
    }
    return recording, raw


def load_bids_ieeg(bids_root: str | os.PathLike, subject: str, task: str, run: str | None = None,
                   session: str | None = None, **kwargs):
    """Read one BIDS iEEG run (``mne_bids.read_raw_bids``: channels.tsv types, electrodes.tsv positions).

    Extra keyword arguments go to :func:`load_ieeg`; ``line_freq`` defaults to
    the sidecar's ``PowerLineFrequency``.

    Returns
    -------
    recording : Recording
    raw : mne.io.BaseRaw
    """
    from mne_bids import BIDSPath, read_raw_bids

    bids_root = Path(bids_root)
    if not bids_root.is_dir():
        raise FileNotFoundError(f"BIDS root {bids_root} does not exist.")
    path = BIDSPath(subject=subject, session=session, task=task, run=run, datatype="ieeg", root=bids_root)
    data = [m for m in path.match() if m.suffix == "ieeg"]
    if len(data) != 1:
        raise BrainalignInputError(
            f"{len(data)} iEEG recordings match sub-{subject} task-{task}"
            f"{'' if run is None else f' run-{run}'} under {bids_root}"
            f"{': give run= / session=' if data else ''}."
        )
    raw = read_raw_bids(data[0], verbose="error")
    kwargs.setdefault("line_freq", raw.info.get("line_freq"))
    kwargs.setdefault("run", f"run-{run}" if run is not None else f"task-{task}")
    kwargs.setdefault("subject", f"sub-{subject}")
    return load_ieeg(raw, **kwargs)


def event_locked_targets(
    recording: Recording,
    events: Timeline,
    *,
    window_ms: float = 50.0,
    lags_ms: Sequence[float] = (0.0, 100.0, 200.0, 300.0, 400.0),
) -> Recording:
    """One row per event; targets are channel x lag: the response averaged in a window around each lag.

    For event ``e`` at onset ``t`` and lag ``k`` the target ``"{channel}@{k:+g}ms"``
    is the channel's mean over ``[t + k - W/2, t + k + W/2)``.  Every channel x
    lag is encoded (and compared) separately, as in Subramaniam et al. (2024).

    Parameters
    ----------
    recording : Recording
        Continuous (e.g. high-gamma) recording, from :func:`load_ieeg`.
    events : Timeline
        Event onsets (s, on each run's clock), runs named as the recording's.
    window_ms : float
    lags_ms : sequence of float
        Window centres relative to the onset (negative = before).

    Returns
    -------
    Recording
        ``(n_events, n_channels * n_lags)``, sampling period 1.0 (nominal),
        runs = the events' runs, ``metadata["events"]`` the event table.
        Its kind is the recording's (``"ieeg"`` from :func:`load_ieeg`), so
        :func:`~brainalign.encoding.cross_validate` drops the M/EEG default
        of 1 s (here: one event, at the nominal 1 s period) around each test
        block; pass ``gap_s`` for events whose response windows overlap more.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Recording, Timeline
    >>> rec = Recording(np.arange(1000.0)[:, None], 0.01, target_names=["LA1"])
    >>> tl = Timeline(["a", "b"], [1.0, 5.0], None, ["run-1", "run-1"])
    >>> out = event_locked_targets(rec, tl, window_ms=20, lags_ms=[0, 100])
    >>> out.target_names, out.data.tolist()
    (['LA1@+0ms', 'LA1@+100ms'], [[99.5, 109.5], [499.5, 509.5]])
    """
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    if not isinstance(events, Timeline):
        raise BrainalignInputError(f"events must be a brainalign Timeline, got {type(events).__name__}.")
    lags = np.asarray(lags_ms, dtype=float)
    if lags.ndim != 1 or lags.size == 0 or not np.all(np.isfinite(lags)):
        raise BrainalignInputError(f"lags_ms must be a non-empty list of finite numbers, got {lags_ms!r}.")
    if not (np.isfinite(window_ms) and window_ms > 0):
        raise BrainalignInputError(f"window_ms must be a positive number of ms, got {window_ms!r}.")
    dt = recording.sampling_period
    half = max(1, int(round(window_ms / 1000.0 / dt))) / 2.0
    rows, runs = [], []
    for run in events.run_ids:
        if run not in recording.run_ids:
            raise BrainalignInputError(f"events run {run!r} is not a run of the recording {recording.run_ids}.")
        data = recording.data[np.asarray(recording.runs) == run]
        sl = events.run_slice(run)
        for onset in np.asarray(events.onsets[sl], dtype=float):
            centre = (onset + lags / 1000.0) / dt
            start = np.round(centre - half).astype(int)
            stop = start + int(2 * half)
            if start.min() < 0 or stop.max() > data.shape[0]:
                raise BrainalignInputError(
                    f"event at {onset:g} s in {run!r}: the window at lags {lags_ms} ms runs past the recording "
                    f"({data.shape[0] * dt:g} s); drop events near the edges."
                )
            rows.append(np.stack([data[a:b].mean(0) for a, b in zip(start, stop)], axis=1).ravel())
            runs.append(run)
    names = [f"{ch}@{lag:+g}ms" for ch in recording.target_names for lag in lags]
    events_meta = {"tokens": list(events.tokens), "onsets": list(map(float, events.onsets)),
                   "window_ms": float(window_ms), "lags_ms": lags.tolist()}
    metadata = dict(recording.metadata, events=events_meta)
    # no space: the channels' info no longer matches the channel x lag columns (positions stay on `recording`)
    return Recording(np.asarray(rows, dtype=np.float32), 1.0, runs, names, recording.kind, None,
                     recording.subject, metadata)


def electrode_table(inst) -> pd.DataFrame:
    """Channel positions of an MNE Raw/Epochs/Info (or a Recording with an ``info`` space), in mm.

    Returns a table ``name``, ``type``, ``x``, ``y``, ``z`` and ``coord_frame``
    (as MNE stores it: a montage made in ``"mni_tal"`` without fiducials, as
    mne-bids reads ``space-MNI152*`` electrodes, is kept with unchanged
    values and labelled ``"head"``).  Channels without a position are NaN.

    Examples
    --------
    >>> import mne
    >>> info = mne.create_info(["LA1"], 100.0, "seeg")
    >>> info["chs"][0]["loc"][:3] = [0.01, 0.02, 0.03]
    >>> electrode_table(info)[["x", "y", "z"]].round(1).values.tolist()
    [[10.0, 20.0, 30.0]]
    """
    import mne

    info = inst.space if isinstance(inst, Recording) else getattr(inst, "info", inst)
    if not isinstance(info, mne.Info):
        raise BrainalignInputError(f"electrode_table needs an MNE object or Info, got {type(inst).__name__}.")
    from mne.io.constants import FIFF

    frames = {FIFF.FIFFV_MNE_COORD_MNI_TAL: "mni_tal", FIFF.FIFFV_COORD_HEAD: "head", FIFF.FIFFV_COORD_MRI: "mri"}
    rows = []
    for ch, kind in zip(info["chs"], info.get_channel_types()):
        loc = np.asarray(ch["loc"][:3], dtype=float) * 1000.0
        if not np.all(np.isfinite(loc)) or np.allclose(loc, 0):
            loc = np.full(3, np.nan)
        rows.append({"name": ch["ch_name"], "type": kind, "x": loc[0], "y": loc[1], "z": loc[2],
                     "coord_frame": frames.get(int(ch["coord_frame"]), str(int(ch["coord_frame"])))})
    return pd.DataFrame(rows)


def atlas_labels(coords_mm, atlas_img, labels: Sequence[str] | Mapping[int, str], *,
                 max_distance_mm: float = 5.0, background: str = "unknown") -> list[str]:
    """Atlas label of each MNI coordinate: the voxel it falls in, else the nearest labelled voxel nearby.

    Parameters
    ----------
    coords_mm : array (n, 3)
        MNI coordinates in mm (e.g. ``electrode_table(raw)[["x", "y", "z"]]``).
    atlas_img : NIfTI image or path
        Integer label image in MNI space (nilearn ships no labelled atlas
        offline; pass one you have, e.g. Harvard-Oxford from
        ``nilearn.datasets.fetch_atlas_harvard_oxford`` when online).
    labels : list (index = value) or mapping value -> name
    max_distance_mm : float
        Contacts in white matter / outside the atlas take the nearest label
        within this distance, else ``background``.

    Examples
    --------
    >>> import nibabel as nib, numpy as np
    >>> data = np.zeros((4, 4, 4), dtype=np.int16); data[:2] = 1; data[2:] = 2
    >>> img = nib.Nifti1Image(data, np.diag([10.0, 10.0, 10.0, 1.0]))
    >>> atlas_labels([[0, 0, 0], [30, 10, 10], [200, 0, 0]], img, ["bg", "left", "right"])
    ['left', 'right', 'unknown']
    """
    from nilearn.image import load_img

    img = load_img(atlas_img)
    data = np.asarray(img.get_fdata()).round().astype(int)
    if data.ndim != 3:
        raise BrainalignInputError(f"atlas_img must be a 3-D label image, got shape {data.shape}.")
    names = dict(labels) if isinstance(labels, Mapping) else dict(enumerate(labels))
    coords = np.atleast_2d(np.asarray(coords_mm, dtype=float))
    if coords.shape[1] != 3:
        raise BrainalignInputError(f"coords_mm must be (n, 3) in mm, got shape {coords.shape}.")
    inv = np.linalg.inv(img.affine)
    labelled = np.argwhere(data > 0)
    labelled_mm = labelled @ img.affine[:3, :3].T + img.affine[:3, 3]
    out = []
    for xyz in coords:
        if not np.all(np.isfinite(xyz)):
            out.append(background)
            continue
        ijk = np.round(inv[:3, :3] @ xyz + inv[:3, 3]).astype(int)
        value = data[tuple(ijk)] if np.all((ijk >= 0) & (ijk < data.shape)) else 0
        if value == 0 and labelled.size:
            d = np.linalg.norm(labelled_mm - xyz, axis=1)
            k = int(np.argmin(d))
            if d[k] <= max_distance_mm:
                value = data[tuple(labelled[k])]
        out.append(names.get(int(value), f"label-{int(value)}") if value else background)
    return out


def coordinate_atlas_labels(coords_mm, *, atlas: str = "seitzman2018", field: str = "networks",
                            max_distance_mm: float = 10.0, background: str = "unknown") -> list[str]:
    """Label of the nearest ROI of a coordinate atlas that nilearn ships offline (Seitzman et al. 2018).

    The 300 ROIs' ``networks`` (e.g. ``"Auditory"``, ``"Visual"``) or
    ``regions`` (``"cortexL"``, ``"hippocampus"``...) within ``max_distance_mm``.

    Examples
    --------
    >>> coordinate_atlas_labels([[-49.8, -34.4, 25.7], [0, 0, 200]])
    ['Auditory', 'unknown']
    """
    if atlas != "seitzman2018":
        raise BrainalignInputError(f"atlas={atlas!r}: only 'seitzman2018' is shipped with nilearn offline.")
    if field not in ("networks", "regions"):
        raise BrainalignInputError(f"field={field!r} must be 'networks' or 'regions'.")
    from nilearn.datasets import fetch_coords_seitzman_2018

    bunch = fetch_coords_seitzman_2018()
    rois = np.asarray(bunch.rois[["x", "y", "z"]], dtype=float)
    names = np.asarray(bunch[field]).astype(str)
    coords = np.atleast_2d(np.asarray(coords_mm, dtype=float))
    out = []
    for xyz in coords:
        d = np.linalg.norm(rois - xyz, axis=1) if np.all(np.isfinite(xyz)) else np.array([np.inf])
        k = int(np.argmin(d))
        out.append(str(names[k]) if d[k] <= max_distance_mm else background)
    return out


def region_summary(values, regions: Sequence[str], *, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-region count, mean, median and max of a per-electrode value (a score, a significant flag).

    Examples
    --------
    >>> region_summary([0.1, 0.3, 0.2], ["V1", "V1", "STG"])["mean"].round(2).tolist()
    [0.2, 0.2]
    """
    values = np.asarray(values, dtype=float)
    if len(regions) != values.size:
        raise BrainalignInputError(f"{values.size} values but {len(regions)} region labels.")
    frame = pd.DataFrame({"region": list(map(str, regions)), "value": values})
    out = frame.groupby("region", sort=True)["value"].agg(["size", "mean", "median", "max"]).reset_index()
    return out.rename(columns={"size": "n"})
