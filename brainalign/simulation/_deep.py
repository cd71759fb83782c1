"""Known truths for trainable encoders: when a deep encoder must, and must not, beat ridge.

- (a) :func:`simulate_linear_truth` — responses are an FIR-linear function of two
  bands; ridge on an FIR design is the right model, a trainable encoder must
  not beat it beyond noise.
- (b) :func:`simulate_interaction_truth` — responses follow the *product* of
  two modalities, smoothed by a response function longer than the FIR window:
  no linear map of either band predicts them.
- (c) :func:`simulate_shared_subjects` — several subjects share (b)'s response
  function with subject-specific gains; one subject has little data.
- (d) :func:`simulate_routed_tokens` — images as grids of patch tokens; each
  target reads the content of the token holding one category, wherever it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import lfilter

from ..core import BrainalignInputError, DesignMatrix, Recording
from ._common import ar1_noise, standardize


@dataclass
class DeepSimulation:
    """A simulated recording for the trainable encoders, with its noise-free signal.

    ``X`` holds the bands side by side (``band_sizes``); ``runs`` labels rows.
    """

    X: np.ndarray
    Y: np.ndarray
    runs: np.ndarray
    band_sizes: list[int]
    signal: np.ndarray
    sampling_period: float = 2.0
    truth: dict[str, Any] = field(default_factory=dict)

    def design(self, name: str = "features") -> DesignMatrix:
        return DesignMatrix(self.X, self.runs, self.sampling_period, name,
                            metadata={"n_features": list(self.band_sizes)})

    def recording(self, subject: str = "sub-01") -> Recording:
        return Recording(self.Y, self.sampling_period, runs=self.runs, kind="roi", subject=subject)


def _check_sizes(n_runs, n_per_run, n_targets) -> None:
    for name, value in (("n_runs", n_runs), ("n_per_run", n_per_run), ("n_targets", n_targets)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise BrainalignInputError(f"{name} must be an int >= 1, got {value!r}.")
    if n_per_run < 20:
        raise BrainalignInputError(f"n_per_run must be >= 20 samples, got {n_per_run}.")


def _bands(n_rows_per_run, n_features, rng, smooth=0.3) -> list[np.ndarray]:
    """Two bands of AR(1) features (independent between runs)."""
    return [ar1_noise(n_rows_per_run, n_features, smooth, rng).astype(np.float32) for _ in range(2)]


def _runs(n_per_run) -> np.ndarray:
    return np.concatenate([np.full(n, f"run-{k + 1}") for k, n in enumerate(n_per_run)])


def _filter_runs(x: np.ndarray, kernel: np.ndarray, n_per_run) -> np.ndarray:
    """Causal filtering of each run separately (no history crosses a run boundary)."""
    out, start = [], 0
    for n in n_per_run:
        out.append(lfilter(kernel, [1.0], x[start:start + n], axis=0))
        start += n
    return np.vstack(out)


def response_kernel(length: int = 12) -> np.ndarray:
    """A slow, haemodynamic-like response over ``length`` samples (peak near a quarter of it), unit sum."""
    t = np.arange(length, dtype=float)
    peak = max(1.0, length / 4)
    k = (t / peak) ** 2 * np.exp(-2 * (t / peak - 1))
    return k / k.sum()


def simulate_linear_truth(n_runs: int = 4, n_per_run: int = 300, n_features: int = 4, n_targets: int = 6,
                          n_delays: int = 4, snr: float = 1.0, seed: int = 0) -> DeepSimulation:
    """(a) Responses = FIR over ``n_delays`` samples of both bands, linear, plus AR(1) noise.

    Ridge on an FIR design with delays ``0 .. n_delays-1`` is the true model.

    Examples
    --------
    >>> sim = simulate_linear_truth(n_runs=2, n_per_run=50, n_targets=2)
    >>> sim.X.shape, sim.Y.shape, sim.band_sizes
    ((100, 8), (100, 2), [4, 4])
    """
    _check_sizes(n_runs, n_per_run, n_targets)
    rng = np.random.default_rng(seed)
    lengths = [n_per_run] * n_runs
    X = np.hstack(_bands(lengths, n_features, rng))
    W = rng.normal(size=(n_delays, X.shape[1], n_targets))
    signal = sum(_filter_runs(X, np.eye(n_delays)[d], lengths) @ W[d] for d in range(n_delays))
    signal = standardize(signal)
    Y = signal + ar1_noise(lengths, n_targets, 0.3, rng) / snr
    return DeepSimulation(X, Y.astype(np.float32), _runs(lengths), [n_features, n_features], signal,
                          truth={"kind": "linear", "n_delays": n_delays, "weights": W, "snr": snr})


def _interaction_signal(X, n_features, lengths, U, V, M, kernel) -> np.ndarray:
    """Drives (A @ u_k) * (B @ v_k) at each sample, mixed into targets by ``M``, smoothed by ``kernel``."""
    drive = (X[:, :n_features] @ U) * (X[:, n_features:] @ V)
    return standardize(_filter_runs(drive @ M, kernel, lengths))


def simulate_interaction_truth(n_runs: int = 4, n_per_run: int = 300, n_features: int = 4, n_targets: int = 6,
                               history: int = 12, n_drives: int = 2, snr: float = 2.0,
                               seed: int = 0) -> DeepSimulation:
    """(b) Responses follow products of projections of band A and band B, smoothed over ``history``.

    ``n_drives`` interaction drives ``(A @ u_k) * (B @ v_k)`` are mixed into the
    targets with random weights.
    The two bands are independent and zero-mean, so the best linear
    prediction from either band (at any delay) is zero: ridge cannot predict
    these targets, a model of the cross-modal interaction can.  The response
    kernel spans ``history`` samples, longer than a 4-delay FIR window.

    Examples
    --------
    >>> sim = simulate_interaction_truth(n_runs=2, n_per_run=50, n_targets=2)
    >>> sim.truth["kind"], sim.Y.shape
    ('interaction', (100, 2))
    """
    _check_sizes(n_runs, n_per_run, n_targets)
    rng = np.random.default_rng(seed)
    lengths = [n_per_run] * n_runs
    X = np.hstack(_bands(lengths, n_features, rng))
    U, V = rng.normal(size=(2, n_features, n_drives))
    M = rng.normal(size=(n_drives, n_targets))
    kernel = response_kernel(history)
    signal = _interaction_signal(X, n_features, lengths, U, V, M, kernel)
    Y = signal + ar1_noise(lengths, n_targets, 0.3, rng) / snr
    return DeepSimulation(X, Y.astype(np.float32), _runs(lengths), [n_features, n_features], signal,
                          truth={"kind": "interaction", "history": history, "kernel": kernel, "snr": snr})


def simulate_shared_subjects(n_per_run: int = 300, runs_per_subject=(4, 4, 2), n_features: int = 4,
                             n_targets: int = 6, history: int = 12, n_drives: int = 2, snr: float = 2.0,
                             seed: int = 0) -> dict[str, DeepSimulation]:
    """(c) Subjects sharing (b)'s response function, each target with its own gain per subject.

    ``runs_per_subject`` sets how much data each subject has (the last one,
    with few runs, is the data-poor subject).

    Examples
    --------
    >>> sims = simulate_shared_subjects(n_per_run=40, runs_per_subject=(2, 2))
    >>> sorted(sims), sims["sub-02"].Y.shape
    (['sub-01', 'sub-02'], (80, 6))
    """
    rng = np.random.default_rng(seed)
    U, V = rng.normal(size=(2, n_features, n_drives))
    M = rng.normal(size=(n_drives, n_targets))
    kernel = response_kernel(history)
    out = {}
    for k, n_runs in enumerate(runs_per_subject):
        _check_sizes(n_runs, n_per_run, n_targets)
        lengths = [n_per_run] * n_runs
        X = np.hstack(_bands(lengths, n_features, rng))
        gains = rng.uniform(0.5, 1.5, size=n_targets) * rng.choice([-1, 1], size=n_targets)
        signal = _interaction_signal(X, n_features, lengths, U, V, M, kernel) * gains
        Y = signal + ar1_noise(lengths, n_targets, 0.3, rng) * np.abs(gains) / snr
        out[f"sub-{k + 1:02d}"] = DeepSimulation(
            X, Y.astype(np.float32), _runs(lengths), [n_features, n_features], signal,
            truth={"kind": "shared-subjects", "gains": gains, "history": history, "snr": snr})
    return out


@dataclass
class TokenSimulation:
    """Images as patch tokens (``X`` n x (H*W*C), token-major) and targets routed by content.

    ``planted[i, j]`` is the token index (row-major on the H x W grid) that
    drives target ``j`` in image ``i``.
    """

    X: np.ndarray
    Y: np.ndarray
    grid: tuple[int, int, int]
    planted: np.ndarray
    category_of_target: np.ndarray
    signal: np.ndarray

    @property
    def band_metadata(self) -> dict:
        return {"token_grid": list(self.grid)}


def simulate_routed_tokens(n_images: int = 1200, grid=(4, 4), n_channels: int = 16, n_categories: int = 4,
                           n_targets: int = 8, strength: float = 3.0, snr: float = 3.0,
                           seed: int = 0) -> TokenSimulation:
    """(d) Each image has ``n_categories`` objects at random distinct patches; target ``j`` reads the patch of
    category ``j % n_categories``.

    A patch token is its content (standard normal channels) plus, for an
    object patch, ``strength`` times the category's unit embedding.  Target
    ``j``'s signal is a fixed projection of the content of the patch holding
    its category, wherever that is: a fixed spatial mask (factorized readout)
    cannot follow it, a query attending to the category's embedding can.

    Examples
    --------
    >>> sim = simulate_routed_tokens(n_images=10, n_targets=4)
    >>> sim.X.shape, sim.planted.shape
    ((10, 256), (10, 4))
    """
    h, w = int(grid[0]), int(grid[1])
    n_tokens = h * w
    if n_categories > n_tokens or n_categories < 1:
        raise BrainalignInputError(f"n_categories must be in [1, {n_tokens}] (tokens on the grid), got {n_categories}.")
    rng = np.random.default_rng(seed)
    embeddings = np.linalg.qr(rng.normal(size=(n_channels, n_categories)))[0].T  # orthonormal rows
    content = rng.normal(size=(n_images, n_tokens, n_channels))
    positions = np.stack([rng.choice(n_tokens, n_categories, replace=False) for _ in range(n_images)])
    tokens = content.copy()
    for c in range(n_categories):
        tokens[np.arange(n_images), positions[:, c]] += strength * embeddings[c]
    category = np.arange(n_targets) % n_categories
    readout = rng.normal(size=(n_targets, n_channels))
    planted = positions[:, category]  # (n_images, n_targets)
    signal = np.einsum("itc,tc->it", content[np.arange(n_images)[:, None], planted], readout)
    signal = standardize(signal)
    Y = signal + rng.normal(size=signal.shape) / snr
    X = tokens.reshape(n_images, -1).astype(np.float32)
    return TokenSimulation(X, Y.astype(np.float32), (h, w, n_channels), planted, category, signal)
