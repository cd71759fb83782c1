"""Frequency tagging in M/EEG and sEEG epochs: evoked spectrum, ITPC, SNR, permutation p with FDR.

The brain half of the isochronous-stream paradigm (Ding et al. 2016): each
epoch is one stream (e.g. 12 s of four-word sentences at 4 words/s), and a
response that follows phrases or sentences is phase-locked to the stream, so
it shows at 2 Hz / 1 Hz in

* the **evoked power spectrum** ``|mean_epochs X(f)|^2`` (power of the average);
* the **inter-trial phase coherence** ``ITPC(f) = |mean_epochs X(f) / |X(f)||``
  (1 = the same phase in every epoch, ~``1/sqrt(n_epochs)`` for noise);
* the **SNR**: the value at a tagged bin over the mean of its neighbouring
  bins (skipping the adjacent ones).

The permutation null shifts every epoch circularly by a random lag: each
epoch keeps its own spectrum but loses its phase relation to the stream.  A
circular shift by ``tau`` samples multiplies bin ``k`` by
``exp(-2 pi i k tau / n)``, so the null needs one FFT of the data and a
matrix product per tagged bin, not an FFT per permutation.
"""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np
import pandas as pd

from ..core import BrainalignInputError

logger = logging.getLogger("brainalign.recordings")

__all__ = ["epochs_fft", "evoked_spectrum", "itpc_spectrum", "phase_locking_states", "tag_channels", "tagging_snr"]


def epochs_fft(epochs, *, picks="data") -> tuple[np.ndarray, np.ndarray, list[str], float]:
    """FFT of every epoch and channel over the whole epoch.

    Parameters
    ----------
    epochs : mne.Epochs or mne.EpochsArray
        Crop them first (``epochs.copy().crop(...)``) so that the window holds a
        whole number of cycles of every tagged rate.
    picks : str or list
        Channels (MNE picks), default all data channels.

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
    coefs : ndarray of complex, shape (n_epochs, n_channels, n_freqs)
    ch_names : list of str
    sfreq : float
    """
    import mne

    if not isinstance(epochs, mne.BaseEpochs):
        raise BrainalignInputError(f"Frequency tagging needs MNE Epochs (one epoch per stream), got {type(epochs).__name__}.")
    data = epochs.get_data(picks=picks)
    if data.shape[0] < 2:
        raise BrainalignInputError(f"ITPC and the permutation null need at least 2 epochs, got {data.shape[0]}.")
    if not np.all(np.isfinite(data)):
        raise BrainalignInputError("The epochs hold NaN or infinite samples; drop or interpolate those channels first.")
    sfreq = float(epochs.info["sfreq"])
    n = data.shape[-1]
    names = list(epochs.copy().pick(picks).ch_names)
    return np.fft.rfftfreq(n, 1.0 / sfreq), np.fft.rfft(data, axis=-1), names, sfreq


def evoked_spectrum(epochs, *, picks="data") -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum of the evoked (epoch-averaged) response, per channel.

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
    power : ndarray, shape (n_channels, n_freqs)
        ``|mean_epochs X(f)|^2`` with ``X`` the FFT scaled to amplitude (``2 / n``).
    """
    freqs, coefs, _, _ = epochs_fft(epochs, picks=picks)
    n = 2 * (coefs.shape[-1] - 1)
    return freqs, np.abs(coefs.mean(axis=0) * (2.0 / n)) ** 2


def _unit_phase(coefs: np.ndarray) -> np.ndarray:
    mag = np.abs(coefs)
    return np.divide(coefs, mag, out=np.zeros_like(coefs), where=mag > 0)


def itpc_spectrum(epochs, *, picks="data") -> tuple[np.ndarray, np.ndarray]:
    """Inter-trial phase coherence per channel and frequency, in [0, 1].

    Examples
    --------
    >>> import mne
    >>> t = np.arange(400) / 100.0
    >>> data = np.stack([[np.cos(2 * np.pi * 1.0 * t)] for _ in range(5)])  # 5 epochs, 1 channel
    >>> epochs = mne.EpochsArray(data, mne.create_info(["EEG1"], 100.0, "eeg"), verbose=False)
    >>> freqs, itpc = itpc_spectrum(epochs)
    >>> round(float(itpc[0, np.argmin(np.abs(freqs - 1.0))]), 6)
    1.0
    """
    freqs, coefs, _, _ = epochs_fft(epochs, picks=picks)
    return freqs, np.abs(_unit_phase(coefs).mean(axis=0))


def tagging_snr(values: np.ndarray, freqs: np.ndarray, rates: Mapping[str, float], *, n_neighbours: int = 4,
                skip: int = 1) -> pd.DataFrame:
    """Value at each tagged rate over the mean of ``n_neighbours`` bins on each side.

    ``skip`` bins next to the tagged one are left out (spectral leakage).

    Returns
    -------
    DataFrame with columns ``channel`` (index), ``level``, ``rate``, ``value``, ``noise``, ``snr``.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    freqs = np.asarray(freqs, dtype=np.float64)
    rows = []
    for level, rate in rates.items():
        k = _bin(freqs, rate, level)
        near = [k + s * d for d in range(1 + skip, 1 + skip + n_neighbours) for s in (-1, 1)]
        near = [j for j in near if 0 < j < freqs.size]
        if not near:
            raise BrainalignInputError(f"No neighbouring bins around the {level} rate {rate} Hz; use longer epochs.")
        noise = values[:, near].mean(axis=1)
        snr = np.divide(values[:, k], noise, out=np.full(values.shape[0], np.nan), where=noise > 0)
        rows.append(pd.DataFrame({"channel": np.arange(values.shape[0]), "level": level, "rate": float(rate),
                                  "value": values[:, k], "noise": noise, "snr": snr}))
    return pd.concat(rows, ignore_index=True)


def _bin(freqs: np.ndarray, rate: float, level: str) -> int:
    k = int(np.argmin(np.abs(freqs - rate)))
    step = freqs[1] - freqs[0] if freqs.size > 1 else np.inf
    if abs(freqs[k] - rate) > 1e-6 * max(1.0, rate) or k == 0:
        raise BrainalignInputError(
            f"The {level} rate {rate} Hz is not on the frequency grid (resolution {step:.4g} Hz): crop the epochs to a "
            "whole number of cycles of every tagged rate (e.g. a multiple of 1 s for 1 Hz and 2 Hz)."
        )
    return k


def tag_channels(
    epochs,
    rates: Mapping[str, float],
    *,
    measure: str = "itpc",
    picks="data",
    n_permutations: int = 1000,
    alpha: float = 0.05,
    n_neighbours: int = 4,
    seed: int = 0,
) -> pd.DataFrame:
    """Which channels follow which rate: value, SNR, permutation p and FDR per channel and rate.

    Parameters
    ----------
    epochs : mne.Epochs
        One epoch per stream, cropped to whole cycles of every rate.
    rates : mapping of level to Hz
        E.g. ``{"sentence": 1.0, "phrase": 2.0, "word": 4.0}``.
    measure : {"itpc", "evoked"}
        Statistic tested at each tagged bin (ITPC or evoked power).
    n_permutations : int
        Random circular shifts of every epoch (see the module docstring).
    alpha : float
        Benjamini-Hochberg level over all channels x rates.
    n_neighbours : int
        Bins on each side for the SNR.

    Returns
    -------
    DataFrame
        ``channel``, ``level``, ``rate``, ``value``, ``noise``, ``snr``, ``p``,
        ``q`` (BH-adjusted), ``significant``; ``measure`` in ``attrs``.

    Examples
    --------
    >>> table = tag_channels(epochs, {"sentence": 1.0, "phrase": 2.0})  # doctest: +SKIP
    >>> table[table.significant]  # doctest: +SKIP
    """
    from scipy import stats

    if measure not in ("itpc", "evoked"):
        raise BrainalignInputError(f"measure must be 'itpc' or 'evoked', got {measure!r}.")
    if not rates:
        raise BrainalignInputError("rates is empty: give the tagged rate of every level, e.g. {'sentence': 1.0}.")
    if not 0 < alpha < 1:
        raise BrainalignInputError(f"alpha must be in (0, 1), got {alpha!r}.")
    if int(n_permutations) < 1:
        raise BrainalignInputError(f"n_permutations must be >= 1, got {n_permutations!r}.")
    freqs, coefs, names, _ = epochs_fft(epochs, picks=picks)
    n_times = 2 * (coefs.shape[-1] - 1)
    base = _unit_phase(coefs) if measure == "itpc" else coefs * (2.0 / n_times)
    observed = np.abs(base.mean(axis=0))
    if measure == "evoked":
        observed = observed**2
    table = tagging_snr(observed, freqs, rates, n_neighbours=n_neighbours)
    rng = np.random.default_rng(seed)
    lags = rng.integers(0, n_times, size=(int(n_permutations), coefs.shape[0]))  # (P, n_epochs)
    pvals = []
    for level, rate in rates.items():
        k = _bin(freqs, rate, level)
        rotation = np.exp(-2j * np.pi * k * lags / n_times)  # (P, E)
        null = np.abs(rotation @ base[:, :, k]) / coefs.shape[0]  # (P, C)
        if measure == "evoked":
            null = null**2
        pvals.append((1.0 + np.sum(null >= observed[None, :, k] * (1 - 1e-9), axis=0)) / (1.0 + null.shape[0]))
    table["p"] = np.concatenate(pvals)
    table["q"] = stats.false_discovery_control(table["p"].to_numpy(), method="bh")
    table["significant"] = table["q"] <= alpha
    table.insert(1, "ch_name", [names[c] for c in table["channel"]])
    table.attrs["measure"] = measure
    return table


def phase_locking_states(
    data: np.ndarray,
    sfreq: float,
    onsets: np.ndarray,
    *,
    band: tuple[float, float] = (4.0, 8.0),
    window: float = 0.25,
) -> np.ndarray:
    """Brain state per word: band-limited phase-locking value between every channel pair.

    The signal is band-pass filtered (zero-phase, ``mne.filter.filter_data``),
    its Hilbert phase taken, and for each word the PLV
    ``|mean_t exp(i (phi_a(t) - phi_b(t)))|`` over ``[onset, onset + window)``
    is computed for every channel pair (the per-word, within-window PLV of
    Andric 2025, computed with scipy rather than ``mne-connectivity``).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        A continuous recording (one run).
    sfreq : float
    onsets : ndarray, shape (n_words,)
        Word onsets in seconds on the clock of ``data``.
    band : (low, high) in Hz
    window : float
        Seconds after each onset.

    Returns
    -------
    ndarray, shape (n_words, n_channels * (n_channels - 1) / 2)
        Upper-triangle PLVs (pair order of ``np.triu_indices(n_channels, 1)``).

    Examples
    --------
    >>> t = np.arange(2000) / 200.0
    >>> x = np.stack([np.sin(2 * np.pi * 6 * t), np.sin(2 * np.pi * 6 * t + 1.0)])
    >>> states = phase_locking_states(x, 200.0, np.array([2.0, 5.0]), band=(4, 8))
    >>> bool(np.all(states > 0.99))
    True
    """
    import mne
    from scipy.signal import hilbert

    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        raise BrainalignInputError(f"data must be (n_channels >= 2, n_times), got shape {data.shape}.")
    onsets = np.asarray(onsets, dtype=np.float64).ravel()
    width = int(round(window * sfreq))
    start = np.round(onsets * sfreq).astype(int)
    if width < 1 or np.any(start < 0) or np.any(start + width > data.shape[1]):
        raise BrainalignInputError(
            f"Every word window [onset, onset + {window} s) must lie inside the {data.shape[1] / sfreq:.2f} s recording."
        )
    filtered = mne.filter.filter_data(data, sfreq, band[0], band[1], verbose=False)
    phase = np.exp(1j * np.angle(hilbert(filtered, axis=-1)))
    a, b = np.triu_indices(data.shape[0], 1)
    index = start[:, None] + np.arange(width)[None, :]  # (n_words, width)
    seg = phase[:, index]  # (C, W, width)
    return np.abs((seg[a] * np.conj(seg[b])).mean(axis=-1)).T
