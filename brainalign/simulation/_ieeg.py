"""Simulated sEEG: shafts of contacts in MNI space whose high-gamma amplitude follows planted drives."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..core import BrainalignInputError
from ._meg import gamma_kernel

#: default shafts: name, first contact (MNI mm), step between contacts (mm), number of contacts
DEFAULT_SHAFTS = (
    ("LA", (-22.0, -6.0, -20.0), (-3.5, 0.0, 0.0), 8),  # left amygdala -> temporal cortex
    ("RH", (26.0, -22.0, -14.0), (3.5, 0.0, 0.0), 8),  # right hippocampus -> temporal cortex
)


def event_drives(onsets_s, values, n_times: int, sfreq: float, *, peak_s: float = 0.15,
                 length_s: float = 0.5) -> np.ndarray:
    """Continuous drives (n_times, n_values) from per-event values: each event a gamma-shaped response.

    Examples
    --------
    >>> import numpy as np
    >>> d = event_drives([0.5], [[2.0]], 500, 100.0)
    >>> int(d[:, 0].argmax()), bool(abs(d[:50]).max() < 1e-12)
    (65, True)
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    onsets = np.asarray(onsets_s, dtype=float)
    if values.shape[0] != onsets.size:
        raise BrainalignInputError(f"{onsets.size} onsets but {values.shape[0]} rows of values.")
    lags = np.arange(int(round(length_s * sfreq))) / sfreq
    kernel = gamma_kernel(lags, peak_s)
    kernel = kernel / kernel.max()
    impulses = np.zeros((n_times, values.shape[1]))
    idx = np.round(onsets * sfreq).astype(int)
    if idx.min() < 0 or idx.max() >= n_times:
        raise BrainalignInputError(f"event onsets must fall inside the {n_times / sfreq:g} s recording.")
    np.add.at(impulses, idx, values)
    from scipy.signal import fftconvolve

    return fftconvolve(impulses, kernel[:, None], axes=0)[:n_times]


def simulate_ieeg(
    drives: np.ndarray,
    planted: Mapping[str, int],
    *,
    sfreq: float = 500.0,
    shafts: Sequence = DEFAULT_SHAFTS,
    depth: float = 0.6,
    common_drive: np.ndarray | None = None,
    common_scale: float = 3.0,
    line_freq: float | None = 50.0,
    seed: int = 0,
):
    """An sEEG ``mne.io.RawArray`` (with an MNI montage) whose high-gamma amplitude follows planted drives.

    Every contact holds a 1/f background, a broadband 70-150 Hz carrier of
    unit amplitude and white sensor noise.  A planted contact's carrier is
    amplitude-modulated by ``1 + depth * z(t)``, ``z`` the standardised drive
    column given in ``planted``.  All contacts also share a "reference"
    signal (a monopolar recording's reference electrode): slow noise plus a
    high-gamma carrier modulated by ``common_drive`` (default: a random slow
    signal), ``common_scale`` times stronger than the local carrier, which
    bipolar or average re-referencing removes.  Line noise at ``line_freq``.

    Parameters
    ----------
    drives : ndarray (n_times, n_drives)
        At ``sfreq``; e.g. a stimulus feature delayed by the response latency,
        or :func:`event_drives` of per-event values.
    planted : mapping contact name -> drive column
    shafts : sequence of (name, first contact mm, step mm, n_contacts)

    Returns
    -------
    raw : mne.io.RawArray
        Channel type ``seeg``, names ``<shaft><number>`` from 1, positions in
        ``mni_tal``.
    truth : dict
        ``planted`` (contact -> column), ``bipolar`` (bipolar channel -> column,
        for the pairs that contain a planted contact), ``positions_mm``.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(2000, 1))
    >>> raw, truth = simulate_ieeg(z, {"LA3": 0})
    >>> raw.get_channel_types()[0], len(raw.ch_names), truth["bipolar"]
    ('seeg', 16, {'LA2-LA3': 0, 'LA3-LA4': 0})
    """
    import mne
    from scipy.signal import butter, sosfiltfilt

    drives = np.asarray(drives, dtype=float)
    if drives.ndim == 1:
        drives = drives[:, None]
    if drives.ndim != 2 or drives.shape[0] < int(sfreq):
        raise BrainalignInputError(
            f"drives must be (n_times, n_drives) with at least 1 s of samples, got {drives.shape}."
        )
    if sfreq / 2 <= 160:
        raise BrainalignInputError(f"sfreq={sfreq} Hz is too low for a 70-150 Hz carrier; use >= 400 Hz.")
    rng = np.random.default_rng(seed)
    n = drives.shape[0]
    names, positions = [], {}
    for shaft, start, step, count in shafts:
        for k in range(int(count)):
            name = f"{shaft}{k + 1}"
            names.append(name)
            positions[name] = np.asarray(start, dtype=float) + k * np.asarray(step, dtype=float)
    unknown = sorted(set(planted) - set(names))
    if unknown:
        raise BrainalignInputError(f"planted contacts {unknown} are not among the simulated contacts {names}.")
    bad_cols = {c: j for c, j in planted.items() if not 0 <= int(j) < drives.shape[1]}
    if bad_cols:
        raise BrainalignInputError(f"planted drive columns {bad_cols} are outside 0..{drives.shape[1] - 1}.")
    hg = butter(4, [70.0, 150.0], btype="bandpass", fs=sfreq, output="sos")
    slow = butter(2, 2.0, btype="lowpass", fs=sfreq, output="sos")

    def carrier(size):
        c = sosfiltfilt(hg, rng.normal(size=size), axis=-1)
        return c / c.std(axis=-1, keepdims=True)

    def envelope(z):
        z = (z - z.mean()) / max(z.std(), 1e-12)
        return np.clip(1.0 + depth * z, 0.05, None)

    def pink(size):
        w = np.cumsum(rng.normal(size=size), axis=-1)
        w = w - sosfiltfilt(butter(2, 0.5, btype="lowpass", fs=sfreq, output="sos"), w, axis=-1)
        return w / w.std(axis=-1, keepdims=True)

    if common_drive is None:
        common_drive = sosfiltfilt(slow, rng.normal(size=n))
    common = common_scale * (carrier(n) * envelope(np.asarray(common_drive, dtype=float)) + 3.0 * pink(n))
    local = carrier((len(names), n))
    for i, name in enumerate(names):
        if name in planted:
            local[i] *= envelope(drives[:, int(planted[name])])
    data = 2.0 * pink((len(names), n)) + local + 0.3 * rng.normal(size=(len(names), n))
    data = data + common[None, :]
    if line_freq is not None:
        t = np.arange(n) / sfreq
        data = data + 5.0 * np.sin(2 * np.pi * line_freq * t + rng.uniform(0, 2 * np.pi, size=(len(names), 1)))
    info = mne.create_info(names, sfreq, "seeg")
    raw = mne.io.RawArray(data * 1e-5, info, verbose="error")  # tens of microvolts
    montage = mne.channels.make_dig_montage({k: v / 1000.0 for k, v in positions.items()}, coord_frame="mni_tal")
    raw.set_montage(montage, verbose="error")
    bipolar = {}
    for shaft, _, _, count in shafts:
        for k in range(1, int(count)):
            a, b = f"{shaft}{k}", f"{shaft}{k + 1}"
            cols = [planted[c] for c in (a, b) if c in planted]
            if cols:
                bipolar[f"{a}-{b}"] = int(cols[0])
    truth = {"planted": dict(planted), "bipolar": bipolar,
             "positions_mm": {k: v.tolist() for k, v in positions.items()}}
    return raw, truth
