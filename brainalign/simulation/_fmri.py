"""Simulated fMRI participants: each target driven by one planted layer."""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from ..alignment import hrf_design
from ..alignment import select_layers
from ..core import BrainalignInputError, FeatureSet, Recording
from ._common import ar1_noise, check_snr, layer_basis, make_grid, mix, plant_layers, plant_signals
from ._truth import SimulationTruth

logger = logging.getLogger("brainalign.simulation")


def targets_from_mask(mask_img, n_targets: int | None, default: int = 100):
    """(masker, voxel positions, number of targets): the mask's voxels, else ``n_targets`` (default 100)."""
    masker, positions = None, None
    if mask_img is not None:
        masker, positions = _mask_targets(mask_img)
        if n_targets is not None and n_targets != positions.size:
            raise BrainalignInputError(
                f"n_targets={n_targets} but mask_img has {positions.size} voxels; leave n_targets unset."
            )
        n_targets = positions.size
    n_targets = default if n_targets is None else int(n_targets)
    if n_targets < 1:
        raise BrainalignInputError(f"n_targets must be >= 1, got {n_targets}.")
    return masker, positions, n_targets


def _mask_targets(mask_img):
    """Fitted NiftiMasker and the world y coordinate (posterior -> anterior) of every voxel."""
    import nibabel as nib
    from nilearn.image import load_img
    from nilearn.maskers import NiftiMasker

    img = load_img(mask_img)
    if len(img.shape) != 3:
        raise BrainalignInputError(f"mask_img must be a 3D image, got shape {img.shape}.")
    mask = np.asarray(img.get_fdata()) != 0
    if mask.sum() < 1:
        raise BrainalignInputError("mask_img selects no voxel.")
    mask_img = nib.Nifti1Image(mask.astype(np.int8), img.affine)
    masker = NiftiMasker(mask_img).fit()
    ijk = np.column_stack(np.nonzero(np.asarray(masker.mask_img_.get_fdata()) != 0))
    world = nib.affines.apply_affine(masker.mask_img_.affine, ijk)
    return masker, world[:, 1]


def simulate_fmri(
    features: FeatureSet,
    *,
    n_targets: int | None = None,
    mask_img=None,
    layers=None,
    layer_of_target=None,
    tr: float = 2.0,
    n_scans: int | Mapping[str, int] | None = None,
    snr=1.0,
    noise_ar: float = 0.5,
    noise_fraction: float = 0.0,
    hrf_model="glover",
    n_components: int | None = None,
    margin_s: float = 20.0,
    subject: str = "sim-01",
    seed: int = 0,
) -> tuple[Recording, SimulationTruth]:
    """A simulated fMRI participant whose every target follows one layer of ``features``.

    For a target planted in layer ``L``: the layer's features are turned into
    HRF-convolved regressors on the scan grid (:func:`~brainalign.alignment.hrf_design`),
    each column is standardised, and ``signal = X_L @ w`` with
    ``w ~ N(0, I)`` is rescaled to zero mean and unit variance over all scans.
    Noise is AR(1) with coefficient ``noise_ar`` (independent between runs and
    targets), rescaled so that **SNR = std(signal) / std(noise)** holds exactly
    for each target over all its samples (an amplitude ratio: the
    noise-free R² ceiling is ``snr**2 / (1 + snr**2)``).  Pure-noise targets
    (``noise_fraction``) hold unit-variance noise only.

    Parameters
    ----------
    features : FeatureSet
        Layerwise features and their timeline (runs become recording runs).
    n_targets : int, optional
        Number of targets (default 100) when no ``mask_img`` is given.
    mask_img : Nifti-like, optional
        3D brain mask; one target per voxel, and ``Recording.space`` is the
        fitted ``NiftiMasker`` so maps go back to images with ``to_image``.
    layers : list, optional
        Candidate layers (default all).
    layer_of_target : None, "gradient" or sequence
        ``None``: random layer per target; ``"gradient"``: layers in model
        order from posterior to anterior voxels (or by target index without a
        mask); or one layer name / index per target (``None`` = noise target).
    tr : float
        Repetition time in seconds.
    n_scans : int or dict, optional
        Scans per run (default: covers the run's events + ``margin_s``).
    snr : float or array of shape (n_targets,)
        std(signal) / std(noise); ``np.inf`` gives noise-free data.
    noise_ar : float
        AR(1) coefficient of the noise, in (-1, 1).
    noise_fraction : float
        Fraction of targets (chosen at random) that hold noise only.
    hrf_model : str
        nilearn HRF model name.
    n_components : int, optional
        Drive targets through the first ``n_components`` principal components
        of each layer's regressors instead of all its dimensions.
    seed : int
        Everything random derives from ``numpy.random.default_rng(seed)``.

    Returns
    -------
    recording : Recording
        ``kind="fmri"``, sampling period ``tr``, runs of the timeline.
    truth : SimulationTruth

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> tl = Timeline(["w"] * 300, np.arange(300) * 0.5)
    >>> rng = np.random.default_rng(0)
    >>> fs = FeatureSet({"layer.0": rng.normal(size=(300, 8)), "layer.1": rng.normal(size=(300, 8))}, tl)
    >>> rec, truth = simulate_fmri(fs, n_targets=20, snr=2.0, seed=1)
    >>> rec.n_targets, len(truth.layer_of_target)
    (20, 20)
    """
    rng = np.random.default_rng(seed)
    names = select_layers(features, layers)
    tr = float(tr)
    grid = make_grid(features, tr, n_scans, margin_s)
    masker, positions, n_targets = targets_from_mask(mask_img, n_targets)
    snr_values = check_snr(snr, n_targets)
    planted = plant_layers(names, n_targets, layer_of_target, noise_fraction, rng, positions)
    noise_targets = np.array([p is None for p in planted])

    designs = hrf_design(features, grid, layers=sorted(set(p for p in planted if p is not None),
                                                       key=names.index), hrf_model=hrf_model)
    bases = {layer: layer_basis(design.X, n_components) for layer, design in designs.items()}
    for layer, basis in bases.items():
        if not basis.any():
            raise BrainalignInputError(
                f"Layer {layer!r} gives constant regressors on this grid; it cannot drive a target."
            )
    signal, weights = plant_signals(bases, planted, grid.n_samples, rng)
    noise = ar1_noise(list(grid.run_lengths().values()), n_targets, noise_ar, rng)
    data = mix(signal, noise, snr_values, noise_targets)
    snr_values[noise_targets] = 0.0

    params = {
        "tr": tr,
        "run_lengths": grid.run_lengths(),
        "hrf_model": hrf_model if isinstance(hrf_model, str) else repr(hrf_model),
        "n_components": n_components,
        "noise_fraction": float(noise_fraction),
        "layer_of_target": layer_of_target if isinstance(layer_of_target, str) or layer_of_target is None
        else "given",
        "model_id": features.metadata.get("model_id"),
        "timeline": features.timeline.content_hash,
        "snr_definition": "std(signal) / std(noise) per target over all samples",
    }
    recording = Recording(
        data.astype(np.float32), tr, grid.runs, None, "fmri", masker, subject,
        {"simulated": True, "seed": seed, **{k: v for k, v in params.items() if k != "run_lengths"}},
    )
    truth = SimulationTruth(planted, names, weights, snr_values, noise_targets, signal.astype(np.float32),
                            float(noise_ar), int(seed), params)
    logger.info("Simulated fMRI: %s; %s", recording, truth)
    return recording, truth
