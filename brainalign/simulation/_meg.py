"""Simulated M/EEG participants: layer features filtered by a per-sensor TRF."""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from ..alignment import resample_to_samples
from ..alignment import select_layers, shift_within_runs
from ..core import BrainalignInputError, FeatureSet, Recording
from ..recordings._meeg import _kind
from ._common import ar1_noise, check_snr, layer_basis, make_grid, mix, plant_layers, plant_signals
from ._truth import SimulationTruth

logger = logging.getLogger("brainalign.simulation")


def gamma_kernel(lags_s: np.ndarray, peak_s: float, shape: float = 4.0) -> np.ndarray:
    """Smooth gamma-shaped response over lags: 0 for lags <= 0, maximum 1 at ``peak_s``."""
    x = np.clip(np.asarray(lags_s, float), 0.0, None) / peak_s
    with np.errstate(divide="ignore"):
        values = np.where(x > 0, np.exp(shape * (np.log(np.where(x > 0, x, 1.0)) - x + 1.0)), 0.0)
    return values


def simulate_meg_eeg(
    features: FeatureSet,
    *,
    sfreq: float = 100.0,
    n_sensors: int | None = None,
    info=None,
    ch_type: str = "eeg",
    trf_kernel: tuple[float, float] = (0.0, 0.6),
    peak_range_s: tuple[float, float] = (0.1, 0.4),
    layers=None,
    layer_of_target=None,
    n_samples: int | Mapping[str, int] | None = None,
    snr=1.0,
    noise_ar: float = 0.5,
    noise_fraction: float = 0.0,
    n_components: int | None = None,
    margin_s: float = 2.0,
    subject: str = "sim-01",
    seed: int = 0,
) -> tuple[Recording, SimulationTruth]:
    """A simulated M/EEG participant: each sensor follows one layer through a TRF.

    Each event's (standardised) layer vector is projected on random Gaussian
    weights ``w`` of the sensor, placed as an impulse at the event's nearest
    sample, and filtered by the sensor's temporal response function: a
    gamma-shaped kernel over lags ``trf_kernel = (tmin, tmax)`` peaking at a
    random latency in ``peak_range_s`` with a random sign.  The signal is
    scaled to unit variance; AR(1) noise (``noise_ar``) is rescaled so that
    std(signal) / std(noise) equals ``snr`` exactly per sensor.  Runs are
    filtered separately (no leakage across runs).

    Parameters
    ----------
    features : FeatureSet
    sfreq : float
        Sampling rate in Hz (ignored when ``info`` is given).
    n_sensors : int, optional
        Number of sensors (default 32) when ``info`` is not given.
    info : mne.Info, optional
        Sensor description to use as the recording's space.
    ch_type : str
        Channel type for a created ``info`` ("eeg", "mag", "grad", ...).
    trf_kernel : (float, float)
        Lag range of the kernels in seconds.
    n_samples : int or dict, optional
        Samples per run (default: the run's events + ``margin_s``).
    snr, noise_ar, noise_fraction, layers, layer_of_target, n_components, seed
        As in :func:`simulate_fmri`.

    Returns
    -------
    recording : Recording
        ``space`` is the ``mne.Info``; ``kind`` is "meg" or "eeg".
    truth : SimulationTruth
        ``kernels`` holds each sensor's TRF (n_sensors, n_lags);
        ``params["lags_s"]`` their lags.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> tl = Timeline(["w"] * 100, np.arange(100) * 0.3)
    >>> fs = FeatureSet({"layer.0": np.random.default_rng(0).normal(size=(100, 4))}, tl)
    >>> rec, truth = simulate_meg_eeg(fs, n_sensors=4, seed=0)
    >>> rec.kind, rec.space["sfreq"], truth.kernels.shape
    ('eeg', 100.0, (4, 61))
    """
    import mne

    rng = np.random.default_rng(seed)
    names = select_layers(features, layers)
    if info is not None:
        if not isinstance(info, mne.Info):
            raise BrainalignInputError(f"info must be an mne.Info, got {type(info).__name__}.")
        if n_sensors is not None and n_sensors != len(info["ch_names"]):
            raise BrainalignInputError(
                f"n_sensors={n_sensors} but info has {len(info['ch_names'])} channels; leave n_sensors unset."
            )
        sfreq = float(info["sfreq"])
    else:
        n_sensors = 32 if n_sensors is None else int(n_sensors)
        if n_sensors < 1:
            raise BrainalignInputError(f"n_sensors must be >= 1, got {n_sensors}.")
        prefix = "EEG" if ch_type == "eeg" else "MEG"
        info = mne.create_info([f"{prefix}{i:03d}" for i in range(n_sensors)], float(sfreq), ch_type)
    n_sensors = len(info["ch_names"])
    kind = _kind(info)
    tmin, tmax = map(float, trf_kernel)
    if not tmin < tmax or not 0 < peak_range_s[0] <= peak_range_s[1]:
        raise BrainalignInputError(
            f"Need trf_kernel tmin < tmax and 0 < peak_range_s[0] <= peak_range_s[1]; got {trf_kernel}, "
            f"{peak_range_s}."
        )
    sampling_period = 1.0 / float(sfreq)
    grid = make_grid(features, sampling_period, n_samples, margin_s + max(tmax, 0.0))
    snr_values = check_snr(snr, n_sensors)
    planted = plant_layers(names, n_sensors, layer_of_target, noise_fraction, rng)
    noise_targets = np.array([p is None for p in planted])

    lags = np.arange(int(np.rint(tmin * sfreq)), int(np.rint(tmax * sfreq)) + 1)
    lags_s = lags * sampling_period
    peaks = rng.uniform(*peak_range_s, size=n_sensors)
    signs = rng.choice([-1.0, 1.0], size=n_sensors)
    kernels = np.stack([s * gamma_kernel(lags_s, p) for s, p in zip(signs, peaks)])
    kernels[noise_targets] = 0.0

    used = sorted({p for p in planted if p is not None}, key=names.index)
    standardized = FeatureSet(
        {layer: layer_basis(features[layer], n_components) for layer in used}, features.timeline,
        features.metadata,
    )
    impulses = resample_to_samples(standardized, grid)
    runs = grid.runs

    def through_trf(source: np.ndarray, targets: list[int]) -> np.ndarray:
        response = np.zeros_like(source)
        for k, lag in enumerate(lags):
            response += shift_within_runs(source, runs, int(lag)) * kernels[targets, k]
        return response

    signal, weights = plant_signals(
        {layer: impulses[layer].X.astype(np.float64) for layer in used}, planted, grid.n_samples, rng, through_trf
    )
    noise = ar1_noise(list(grid.run_lengths().values()), n_sensors, noise_ar, rng)
    data = mix(signal, noise, snr_values, noise_targets)
    snr_values[noise_targets] = 0.0
    params = {
        "sfreq": float(sfreq),
        "run_lengths": grid.run_lengths(),
        "lags_s": lags_s.tolist(),
        "peak_latency_s": peaks.tolist(),
        "kernel_sign": signs.tolist(),
        "n_components": n_components,
        "noise_fraction": float(noise_fraction),
        "model_id": features.metadata.get("model_id"),
        "timeline": features.timeline.content_hash,
        "snr_definition": "std(signal) / std(noise) per sensor over all samples",
    }
    recording = Recording(
        data.astype(np.float32), sampling_period, runs, list(info["ch_names"]), kind, info, subject,
        {"simulated": True, "seed": seed, "model_id": params["model_id"]},
    )
    truth = SimulationTruth(planted, names, weights, snr_values, noise_targets, signal.astype(np.float32),
                            float(noise_ar), int(seed), params, kernels)
    logger.info("Simulated %s: %s; %s", kind.upper(), recording, truth)
    return recording, truth
