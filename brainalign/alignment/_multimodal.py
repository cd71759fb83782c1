"""Several models' features (frames, soundtrack, transcript) on one recording's grid, one band each."""

from __future__ import annotations

from typing import Mapping

from ..core import BrainalignInputError, DesignMatrix, FeatureSet, Recording
from ._api import make_designs
from ._grid import SampleGrid

#: Separates modality and layer in band names (``"video:layer.3"``).
BAND_SEPARATOR = ":"


def band_name(modality: str, layer: str) -> str:
    """``"<modality>:<layer>"``, the name of one band of a multimodal design."""
    return f"{modality}{BAND_SEPARATOR}{layer}"


def multimodal_designs(
    features: Mapping[str, FeatureSet],
    recording: Recording | SampleGrid,
    *,
    layers: Mapping[str, object] | None = None,
    method: str = "hrf",
    **kwargs,
) -> dict[str, DesignMatrix]:
    """Design matrices of several modalities on one recording's grid, one band per modality and layer.

    Each modality's features keep their own timeline (frames every 0.5 s,
    speech-model frames every 20 ms, transcript words at their onsets); all
    are brought to the recording's samples with the same ``method``, run by
    run, so the bands can be fitted together (e.g. with
    :func:`brainalign.encoding.fit_multimodal`, banded ridge with one
    penalty per band, and variance partitioning per modality).

    Parameters
    ----------
    features : mapping of str to FeatureSet
        Modality name (``"video"``, ``"audio"``, ``"text"``, any label
        without ``":"``) to its features.  Their timelines' runs must match
        the recording's runs.
    recording : Recording or SampleGrid
        The grid (runs, lengths, TR or sampling period).
    layers : mapping of str to (str, int, list or None), optional
        Layers per modality (default: every layer of every modality).
    method : str
        ``"hrf"``, ``"lanczos"``, ``"fir"`` or ``"lagged"``; see
        :func:`make_designs`.
    **kwargs
        Passed to the design function of ``method`` for every modality.

    Returns
    -------
    dict of str to DesignMatrix
        Keyed ``"<modality>:<layer>"`` in the order of ``features`` then
        layers; each design's ``metadata`` holds ``modality`` and ``layer``.

    Raises
    ------
    BrainalignInputError
        For an empty mapping, a modality name with ``":"``, layers given for
        an unknown modality, or features that do not fit the recording.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import FeatureSet, Timeline
    >>> rng = np.random.default_rng(0)
    >>> frames = FeatureSet({"layer.0": rng.normal(size=(60, 4))}, Timeline(["frame"] * 60, np.arange(60) * 0.5))
    >>> words = FeatureSet({"layer.0": rng.normal(size=(40, 3)), "layer.1": rng.normal(size=(40, 3))},
    ...                    Timeline(["w"] * 40, np.sort(rng.uniform(0, 29, 40))))
    >>> bands = multimodal_designs({"video": frames, "text": words}, SampleGrid({"run-1": 20}, 1.5))
    >>> [(name, d.n_features) for name, d in bands.items()]
    [('video:layer.0', 4), ('text:layer.0', 3), ('text:layer.1', 3)]
    """
    if not isinstance(features, Mapping) or not features:
        raise BrainalignInputError("features must be a non-empty mapping of modality name to FeatureSet.")
    layers = dict(layers or {})
    unknown = sorted(set(layers) - set(features))
    if unknown:
        raise BrainalignInputError(f"layers given for unknown modality(ies) {unknown}; modalities are {list(features)}.")
    out: dict[str, DesignMatrix] = {}
    for modality, fs in features.items():
        modality = str(modality)
        if BAND_SEPARATOR in modality or not modality:
            raise BrainalignInputError(f"Modality name {modality!r} must be non-empty and contain no ':'.")
        if not isinstance(fs, FeatureSet):
            raise BrainalignInputError(f"features[{modality!r}] is a {type(fs).__name__}, not a FeatureSet.")
        try:
            designs = make_designs(fs, recording, method, layers=layers.get(modality), **kwargs)
        except BrainalignInputError as err:
            raise BrainalignInputError(f"Modality {modality!r}: {err}") from err
        for layer, design in designs.items():
            name = band_name(modality, layer)
            design.name = name
            design.metadata = {**design.metadata, "modality": modality, "layer": layer}
            out[name] = design
    return out
