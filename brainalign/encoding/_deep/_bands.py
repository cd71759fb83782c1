"""Band descriptions (name, columns, metadata) from the estimator protocol's ``bands`` or plain sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core import BrainalignInputError

#: the head key of a model fitted by ``fit`` on one recording
SINGLE = "_single"


@dataclass(frozen=True)
class BandSpec:
    """What the trainable encoders need of a band: its name, column count and metadata."""

    name: str
    n_features: int
    metadata: dict[str, Any] = field(default_factory=dict)


def resolve_bands(bands, band_sizes, n_features: int, owner: str) -> list[BandSpec]:
    """Bands in column order from ``bands`` (objects with ``name``/``n_features``), ``band_sizes``, or one band.

    ``bands`` follows the encoding estimator protocol (``brainalign.core.Band``
    or anything with the same attributes); ``band_sizes`` is the estimator's
    own option for plain arrays.
    """
    if bands is not None:
        specs = []
        for k, band in enumerate(bands):
            size = getattr(band, "n_features", None)
            if size is None and isinstance(band, dict):
                size = band.get("n_features")
            if size is None:
                raise BrainalignInputError(f"{owner}: band {k} ({band!r}) has no n_features.")
            name = getattr(band, "name", None) or (band.get("name") if isinstance(band, dict) else None) or f"band{k}"
            meta = getattr(band, "metadata", None) or (band.get("metadata") if isinstance(band, dict) else None) or {}
            specs.append(BandSpec(str(name), int(size), dict(meta)))
    elif band_sizes is not None:
        specs = [BandSpec(f"band{k}", int(s)) for k, s in enumerate(band_sizes)]
    else:
        specs = [BandSpec("features", int(n_features))]
    sizes = [s.n_features for s in specs]
    if any(s < 1 for s in sizes) or sum(sizes) != n_features:
        raise BrainalignInputError(
            f"{owner}: band sizes {sizes} must be positive and add up to the design's {n_features} columns."
        )
    return specs


def band_slices(specs: list[BandSpec]) -> list[slice]:
    edges = np.concatenate([[0], np.cumsum([s.n_features for s in specs])])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
