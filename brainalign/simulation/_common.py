"""Pieces shared by the fMRI and M/EEG simulators: grids, layer planting, AR(1) noise."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.signal import lfilter

from ..alignment import SampleGrid
from ..core import BrainalignInputError, FeatureSet


def make_grid(features: FeatureSet, sampling_period: float, n_samples, margin_s: float) -> SampleGrid:
    """Per-run sample counts: given (int or per-run mapping) or covering the events + ``margin_s``."""
    tl = features.timeline
    lengths = {}
    for run in tl.run_ids:
        sl = tl.run_slice(run)
        if n_samples is None:
            end = max(float(tl.offsets[sl].max()), float(tl.onsets[sl].max()))
            lengths[run] = int(np.ceil((end + margin_s) / sampling_period)) + 1
        elif isinstance(n_samples, Mapping):
            if run not in n_samples:
                raise BrainalignInputError(
                    f"No sample count given for run {run!r}; runs are {tl.run_ids}."
                )
            lengths[run] = int(n_samples[run])
        else:
            lengths[run] = int(n_samples)
    if isinstance(n_samples, Mapping):
        extra = sorted(set(map(str, n_samples)) - set(tl.run_ids))
        if extra:
            raise BrainalignInputError(f"Sample counts given for unknown run(s) {extra}; runs are {tl.run_ids}.")
    short = {r: n for r, n in lengths.items() if n < 10}
    if short:
        raise BrainalignInputError(f"Runs need at least 10 samples to simulate; got {short}.")
    return SampleGrid(lengths, sampling_period)


def plant_layers(
    layer_names: Sequence[str],
    n_targets: int,
    layer_of_target,
    noise_fraction: float,
    rng: np.random.Generator,
    positions: np.ndarray | None = None,
) -> list:
    """Layer name of every target (``None`` = pure noise).

    ``layer_of_target`` is ``None`` (uniformly random layers), ``"gradient"``
    (layers in model order along ``positions``, e.g. a brain axis, in equal
    shares) or a sequence of layer names / indices of length ``n_targets``.
    Then a random ``noise_fraction`` of targets is made pure noise.
    """
    if not 0.0 <= noise_fraction < 1.0:
        raise BrainalignInputError(f"noise_fraction must be in [0, 1), got {noise_fraction}.")
    n_layers = len(layer_names)
    if layer_of_target is None:
        index = rng.integers(0, n_layers, size=n_targets)
        planted = [layer_names[i] for i in index]
    elif isinstance(layer_of_target, str) and layer_of_target == "gradient":
        order = np.arange(n_targets) if positions is None else np.argsort(positions, kind="stable")
        index = np.empty(n_targets, dtype=int)
        index[order] = (np.arange(n_targets) * n_layers) // n_targets
        planted = [layer_names[i] for i in index]
    else:
        values = list(layer_of_target)
        if len(values) != n_targets:
            raise BrainalignInputError(
                f"layer_of_target has {len(values)} entries but there are {n_targets} targets."
            )
        planted = []
        for v in values:
            if v is None:
                planted.append(None)
            elif isinstance(v, (int, np.integer)) and -n_layers <= int(v) < n_layers:
                planted.append(layer_names[int(v)])
            elif isinstance(v, str) and v in layer_names:
                planted.append(v)
            else:
                raise BrainalignInputError(
                    f"layer_of_target entry {v!r} is neither a layer name nor an index; layers are "
                    f"{list(layer_names)}."
                )
    n_noise = int(round(noise_fraction * n_targets))
    if n_noise:
        for i in rng.choice(n_targets, size=n_noise, replace=False):
            planted[int(i)] = None
    if all(p is None for p in planted):
        raise BrainalignInputError("Every target would be pure noise; lower noise_fraction.")
    return planted


def standardize(X: np.ndarray) -> np.ndarray:
    """Columns to zero mean, unit variance (constant columns to zeros)."""
    std = X.std(axis=0)
    return np.where(std > 0, (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)


def layer_basis(X: np.ndarray, n_components: int | None) -> np.ndarray:
    """Standardised columns, or their first ``n_components`` principal components (standardised)."""
    Z = standardize(np.asarray(X, dtype=np.float64))
    if n_components is None:
        return Z
    n_components = int(n_components)
    if not 1 <= n_components <= min(Z.shape):
        raise BrainalignInputError(
            f"n_components must be between 1 and {min(Z.shape)} for a layer of shape {Z.shape}, got "
            f"{n_components}."
        )
    U, S, _ = np.linalg.svd(Z, full_matrices=False)
    return standardize(U[:, :n_components] * S[:n_components])


def plant_signals(
    bases: Mapping[str, np.ndarray],
    planted: Sequence[str | None],
    n_samples: int,
    rng: np.random.Generator,
    respond: Callable[[np.ndarray, list[int]], np.ndarray] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Noise-free signal of every target and the weights that made it.

    For each layer (in the order of ``bases``), its targets get Gaussian
    weights ``W`` (n_columns, n_targets of the layer) and the signal
    ``standardize(respond(basis @ W, targets))``; ``respond`` (default: as is)
    maps the weighted sources to the measured response, e.g. through a TRF.
    Targets planted in no layer keep a zero signal and empty weights.
    """
    signal = np.zeros((n_samples, len(planted)))
    weights: list[np.ndarray] = [np.zeros(0) for _ in planted]
    for layer, basis in bases.items():
        targets = [i for i, p in enumerate(planted) if p == layer]
        W = rng.standard_normal((basis.shape[1], len(targets)))
        source = basis @ W
        response = source if respond is None else respond(source, targets)
        if not response.any():
            raise BrainalignInputError(f"Layer {layer!r} produces no signal on this grid.")
        signal[:, targets] = standardize(response)
        for j, i in enumerate(targets):
            weights[i] = W[:, j]
    return signal, weights


def ar1_noise(
    run_lengths: Sequence[int], n_targets: int, phi: float, rng: np.random.Generator
) -> np.ndarray:
    """Stationary unit-variance AR(1) noise, independent between runs: x_t = phi x_{t-1} + sqrt(1-phi^2) e_t."""
    if not -1.0 < phi < 1.0:
        raise BrainalignInputError(f"noise_ar must be in (-1, 1), got {phi}.")
    scale = np.sqrt(1.0 - phi ** 2)
    blocks = []
    for n in run_lengths:
        innovations = rng.standard_normal((n, n_targets))
        innovations[0] /= scale  # start in the stationary distribution
        blocks.append(lfilter([scale], [1.0, -phi], innovations, axis=0))
    return np.vstack(blocks)


def check_snr(snr, n_targets: int) -> np.ndarray:
    values = np.broadcast_to(np.asarray(snr, dtype=float), (n_targets,)).copy()
    if np.any(~(values > 0)):
        raise BrainalignInputError(f"snr must be > 0 (np.inf for noise-free), got {snr!r}.")
    return values


def mix(signal: np.ndarray, noise: np.ndarray, snr: np.ndarray, noise_targets: np.ndarray) -> np.ndarray:
    """signal + noise scaled so that std(signal) / std(noise) == snr exactly per target.

    Pure-noise targets get unit-variance noise.
    """
    noise = noise / noise.std(axis=0)
    scale = np.where(noise_targets, 1.0, np.where(np.isinf(snr), 0.0, 1.0 / np.where(np.isinf(snr), 1.0, snr)))
    return signal + noise * scale
