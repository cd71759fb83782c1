"""A simulated movie-watching participant: each target driven by one layer of one modality."""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from ..alignment import SampleGrid, multimodal_designs
from ..core import BrainalignInputError, FeatureSet, Recording
from ._fmri import targets_from_mask
from ._common import ar1_noise, check_snr, layer_basis, make_grid, mix, plant_layers, plant_signals
from ._truth import SimulationTruth

logger = logging.getLogger("brainalign.simulation")


def simulate_multimodal_fmri(
    features: Mapping[str, FeatureSet],
    *,
    layers: Mapping[str, object] | None = None,
    n_targets: int | None = None,
    mask_img=None,
    band_of_target=None,
    tr: float = 1.5,
    n_scans=None,
    snr=1.0,
    noise_ar: float = 0.3,
    hrf_model="glover",
    n_components: int | None = None,
    margin_s: float = 15.0,
    subject: str = "sim-movie",
    seed: int = 0,
) -> tuple[Recording, SimulationTruth]:
    """A simulated fMRI participant watching a movie: every target follows one band (modality and layer).

    The features of each modality (e.g. frames, soundtrack, transcript) are
    brought to the scan grid with
    :func:`brainalign.alignment.multimodal_designs` (HRF), and each target's
    signal is a random Gaussian combination of the standardised columns of
    its planted band (or of their first ``n_components`` principal
    components), scaled to unit variance, plus AR(1) noise at the given SNR
    (std(signal) / std(noise)), as in :func:`simulate_fmri`.

    Parameters
    ----------
    features : mapping of str to FeatureSet
        Modality name to features; all timelines share the runs.
    layers : mapping, optional
        Candidate layers per modality (default all).
    n_targets : int, optional
        Number of targets (default 100) when no ``mask_img`` is given.
    mask_img : Nifti-like, optional
        3D brain mask; one target per voxel, and ``Recording.space`` is the
        fitted ``NiftiMasker`` so that maps go back to images.
    band_of_target : None, "gradient" or sequence
        ``None``: a random band per target; ``"gradient"``: the bands in order
        (modality by modality, layers in model order) from posterior to
        anterior voxels (or by target index without a mask); else one band
        name (``"<modality>:<layer>"``), modality name (its first candidate
        layer) or ``None`` (noise) per target.
    tr : float
        Repetition time in seconds.
    n_scans : int or dict, optional
        Scans per run (default: covers every modality's events + ``margin_s``).
    snr : float or array of shape (n_targets,)
    noise_ar : float
    hrf_model : str
    n_components : int, optional
    margin_s : float
    subject : str
    seed : int

    Returns
    -------
    recording : Recording
    truth : SimulationTruth
        ``layer_of_target`` holds the planted band names and ``layer_names``
        every candidate band; ``params["modality_of_target"]`` the modalities.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import FeatureSet, Timeline
    >>> rng = np.random.default_rng(0)
    >>> frames = FeatureSet({"layer.0": rng.normal(size=(240, 4))}, Timeline(["frame"] * 240, np.arange(240) * 0.5))
    >>> words = FeatureSet({"layer.0": rng.normal(size=(200, 4))}, Timeline(["w"] * 200, np.arange(200) * 0.6))
    >>> rec, truth = simulate_multimodal_fmri({"video": frames, "text": words}, n_targets=6, seed=0)
    >>> rec.n_targets, sorted(set(truth.params["modality_of_target"]))
    (6, ['text', 'video'])
    """
    if not isinstance(features, Mapping) or not features:
        raise BrainalignInputError("features must be a non-empty mapping of modality name to FeatureSet.")
    rng = np.random.default_rng(seed)
    tr = float(tr)
    grids = [make_grid(fs, tr, n_scans, margin_s) for fs in features.values()]
    runs = list(dict.fromkeys(r for g in grids for r in g.run_lengths()))
    lengths = {r: max(g.run_lengths().get(r, 0) for g in grids) for r in runs}
    grid = SampleGrid(lengths, tr)
    designs = multimodal_designs(features, grid, layers=layers, method="hrf", hrf_model=hrf_model)
    names = list(designs)
    masker, positions, n_targets = targets_from_mask(mask_img, n_targets)
    if band_of_target is not None and not isinstance(band_of_target, str):
        first_band = {}
        for name in names:
            first_band.setdefault(name.split(":", 1)[0], name)
        band_of_target = [first_band.get(b, b) if isinstance(b, str) else b for b in band_of_target]
    planted = plant_layers(names, n_targets, band_of_target, 0.0, rng, positions)
    bases = {}
    for band in (n for n in names if n in set(planted)):
        bases[band] = layer_basis(designs[band].X, n_components)
        if not bases[band].any():
            raise BrainalignInputError(f"Band {band!r} gives constant regressors on this grid; it cannot drive a target.")
    signal, weights = plant_signals(bases, planted, grid.n_samples, rng)
    snr_values = check_snr(snr, n_targets)
    noise_targets = np.array([p is None for p in planted])
    data = mix(signal, ar1_noise(list(grid.run_lengths().values()), n_targets, noise_ar, rng), snr_values,
               noise_targets)
    modality_of_target = [None if p is None else p.split(":", 1)[0] for p in planted]
    params = {"tr": tr, "run_lengths": grid.run_lengths(), "hrf_model": str(hrf_model),
              "n_components": n_components, "modalities": list(features),
              "modality_of_target": modality_of_target,
              "snr_definition": "std(signal) / std(noise) per target over all samples"}
    recording = Recording(data.astype(np.float32), tr, grid.runs, None, "fmri", masker, subject,
                          {"simulated": True, "seed": seed, "modalities": list(features)})
    truth = SimulationTruth(planted, names, weights, snr_values, noise_targets, signal.astype(np.float32),
                            float(noise_ar), int(seed), params)
    logger.info("Simulated multimodal fMRI: %s; %s", recording, truth)
    return recording, truth
