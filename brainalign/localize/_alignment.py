"""Brain alignment of localized units: encoding scores of those units vs random units."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .._logging import progress_disabled
from ..core import BrainalignInputError, EncodingResult, FeatureSet, Recording
from ._mask import UnitMask, random_unit_mask
from ._units import model_name

logger = logging.getLogger("brainalign.localize")

__all__ = ["UnitAlignment", "restrict_features", "unit_brain_alignment"]


_FEATURE_PREFIX = {"residual": "layer.", "mlp": "mlp.", "attn_heads": "attn."}


def _feature_layer(layer: str, unit_type: str) -> str:
    """Feature-extraction name of a mask layer: ``layer.i`` / ``mlp.i`` / ``attn.i``."""
    return _FEATURE_PREFIX[unit_type] + layer.split(".")[-1]


def restrict_features(features: FeatureSet, mask: UnitMask, name: str = "localized") -> FeatureSet:
    """One-layer FeatureSet holding only the masked units, all layers side by side.

    Mask layer ``layer.i`` reads feature layer ``layer.i`` (residual units),
    ``mlp.i`` (MLP units) or ``attn.i`` (attention-head units), the names
    :func:`brainalign.features.extract_text_features` gives them.
    """
    unit_type = mask.params.get("unit_type", "residual")
    missing = [_feature_layer(layer, unit_type) for layer in mask.layers
               if mask.mask[layer].any() and _feature_layer(layer, unit_type) not in features.layers]
    if missing:
        raise BrainalignInputError(
            f"The features lack layer(s) {missing} of the mask; they have {features.layer_names}. Extract "
            f"the same unit type ({mask.params.get('unit_type', 'residual')!r}) with the same model."
        )
    columns = []
    for layer in mask.layers:
        if not mask.mask[layer].any():
            continue
        values = np.asarray(features[_feature_layer(layer, unit_type)])
        if values.shape[1] != mask.mask[layer].size:
            raise BrainalignInputError(
                f"Layer {layer!r}: the features have {values.shape[1]} columns but the mask has "
                f"{mask.mask[layer].size} units (another model or unit type?)."
            )
        columns.append(values[:, mask.mask[layer]])
    return FeatureSet({name: np.hstack(columns)}, features.timeline,
                      {**features.metadata, "unit_mask": mask.key, "n_units": mask.n_selected})


def _extract(model, mask: UnitMask, timeline, tokenizer, feature_kwargs) -> FeatureSet:
    from ..core import Timeline
    from ..features import TextModel, extract_text_features

    if not isinstance(timeline, Timeline):
        raise BrainalignInputError("unit_brain_alignment with a model needs timeline= (a brainalign Timeline).")
    if not isinstance(model, (str, TextModel)) and hasattr(model, "forward"):
        if tokenizer is None:
            raise BrainalignInputError("Pass tokenizer= with a transformers model object.")
        model = TextModel(model, tokenizer, model_name(model))
    unit_type = mask.params.get("unit_type", "residual")
    blocks = [int(layer.split(".")[-1]) for layer in mask.layers]
    kwargs = dict(feature_kwargs or {})
    if unit_type != "residual":
        kwargs["units"] = unit_type
    return extract_text_features(timeline, model, layers=blocks, **kwargs)


@dataclass(eq=False)
class UnitAlignment:
    """Encoding scores of the localized units and of random same-size unit sets.

    Attributes
    ----------
    results : dict of str to EncodingResult
        ``"localized"`` and ``"random-<seed>"``.
    summary : DataFrame
        One row per target: ``localized_r``, ``random_r_mean``,
        ``random_r_ci_low``/``high`` (t interval over seeds), ``difference``,
        ``p_random`` = (1 + #random >= localized) / (1 + #random).
    params : dict
    """

    results: dict[str, EncodingResult]
    summary: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Tidy scores (``scores.tsv`` format) with ``layer`` = localized / random-<seed>."""
        return pd.concat([res.to_frame() for res in self.results.values()], ignore_index=True)

    def __repr__(self) -> str:
        return (f"UnitAlignment(n_targets={len(self.summary)}, median localized r="
                f"{self.summary.localized_r.median():.3f}, median random r={self.summary.random_r_mean.median():.3f})")


def unit_brain_alignment(
    features,
    mask: UnitMask,
    recording: Recording,
    *,
    timeline=None,
    tokenizer=None,
    feature_kwargs: Mapping[str, Any] | None = None,
    n_random_seeds: int = 5,
    match: str = "per_layer",
    design: str = "hrf",
    design_kwargs: Mapping[str, Any] | None = None,
    encoding_kwargs: Mapping[str, Any] | None = None,
    ci: float = 0.95,
    seed: int = 0,
) -> UnitAlignment:
    """Encode ``recording`` from the localized units, and from random units of the same size.

    The localized units of every layer are concatenated into one design (and
    likewise each random control drawn by :func:`random_unit_mask`), turned
    into a design matrix (:func:`brainalign.alignment.hrf_design` for fMRI,
    or ``design="lanczos"``), and scored by
    :func:`brainalign.encoding.cross_validate`.

    Parameters
    ----------
    features : FeatureSet, or the model
        Word-level features of the same model and unit type as the mask (one
        column per unit; see :func:`restrict_features` for layer names) on a
        timeline whose runs match the recording's; or the model itself (hub
        id, directory, :class:`brainalign.features.TextModel`, or a
        transformers model with ``tokenizer=``), whose features for
        ``timeline`` are then extracted with
        :func:`brainalign.features.extract_text_features` (``feature_kwargs``).
    mask : UnitMask
    recording : Recording
    timeline : Timeline
        Needed when ``features`` is a model.
    tokenizer : tokenizer, optional
        With a transformers model object.
    n_random_seeds : int
    match : {"per_layer", "total"}
    design : {"hrf", "lanczos"}
    design_kwargs, encoding_kwargs : dict
        Passed to the design function and to ``cross_validate``.

    Returns
    -------
    UnitAlignment
    """
    from scipy import stats
    from tqdm.auto import tqdm

    from ..alignment import hrf_design, lanczos_design
    from ..encoding import cross_validate

    if not isinstance(features, FeatureSet):
        features = _extract(features, mask, timeline, tokenizer, feature_kwargs)
    if design not in ("hrf", "lanczos"):
        raise BrainalignInputError(f"design must be 'hrf' or 'lanczos', got {design!r}.")
    if n_random_seeds < 2:
        raise BrainalignInputError(f"n_random_seeds must be >= 2, got {n_random_seeds}.")
    make_design = hrf_design if design == "hrf" else lanczos_design
    masks = {"localized": mask}
    masks.update({f"random-{seed + s}": random_unit_mask(mask, seed + s, match=match) for s in range(n_random_seeds)})
    results: dict[str, EncodingResult] = {}
    for name, m in tqdm(masks.items(), desc="unit encoding", disable=progress_disabled(), leave=False):
        restricted = restrict_features(features, m, name)
        designs = make_design(restricted, recording, **dict(design_kwargs or {}))
        result = cross_validate(designs[name], recording, model=str(mask.params.get("model", "")),
                                **dict(encoding_kwargs or {}))
        result.name = name
        results[name] = result
    loc = results["localized"].mean_r
    rnd = np.vstack([results[k].mean_r for k in results if k != "localized"])
    half = stats.t.ppf(0.5 + ci / 2, rnd.shape[0] - 1) * rnd.std(axis=0, ddof=1) / np.sqrt(rnd.shape[0])
    summary = pd.DataFrame({
        "target": results["localized"].target_names,
        "localized_r": loc,
        "random_r_mean": rnd.mean(axis=0),
        "random_r_ci_low": rnd.mean(axis=0) - half,
        "random_r_ci_high": rnd.mean(axis=0) + half,
        "difference": loc - rnd.mean(axis=0),
        "p_random": (1 + (rnd >= loc).sum(axis=0)) / (1 + rnd.shape[0]),
    })
    params = {"mask_key": mask.key, "n_selected": mask.n_selected, "n_random_seeds": int(n_random_seeds),
              "match": match, "design": design, "design_kwargs": dict(design_kwargs or {}),
              "encoding_kwargs": dict(encoding_kwargs or {}), "seed": int(seed), "subject": recording.subject}
    return UnitAlignment(results, summary, params)
