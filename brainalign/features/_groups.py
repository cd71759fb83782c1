"""Layer groups by fractional depth (TRIBE-style: layers at 50 %, 75 % and 100 % of a model's depth)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, FeatureSet


def layer_groups(features: FeatureSet, fractions: Sequence[float] = (0.5, 0.75, 1.0), *, mode: str = "mean",
                 concatenate: bool = False) -> FeatureSet:
    """One layer per fractional depth: the layers of each depth range averaged, or the nearest layer.

    Layers are taken in the FeatureSet's (model) order, layer ``i`` of ``L``
    at depth ``i / (L - 1)`` (embeddings at 0, last block at 1).  With
    ``mode="mean"`` the group of fraction ``f_k`` averages the layers whose
    depth lies in ``(f_{k-1}, f_k]`` (the first group: ``[0, f_0]``); with
    ``mode="nearest"`` it is the single layer nearest to depth ``f_k``.
    Layers of a group must share their width.  ``concatenate=True`` returns
    one layer with the groups side by side (one band for the encoder).
    ``metadata["layer_groups"]`` names the layers of each group.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline
    >>> fs = FeatureSet({f"layer.{i}": np.full((1, 2), float(i)) for i in range(5)}, Timeline(["a"], [0.0]))
    >>> g = layer_groups(fs)
    >>> g.layer_names, g["depth0.5"].tolist(), g.metadata["layer_groups"]["depth1"]
    (['depth0.5', 'depth0.75', 'depth1'], [[1.0, 1.0]], ['layer.4'])
    >>> layer_groups(fs, mode="nearest", concatenate=True)["depth0.5+0.75+1"].tolist()
    [[2.0, 2.0, 3.0, 3.0, 4.0, 4.0]]
    """
    if not isinstance(features, FeatureSet):
        raise BrainalignInputError(f"layer_groups needs a FeatureSet, got {type(features).__name__}.")
    fr = np.asarray(list(fractions), dtype=float)
    if fr.ndim != 1 or fr.size == 0 or np.any(~np.isfinite(fr)) or np.any(fr < 0) or np.any(fr > 1) \
            or np.any(np.diff(fr) <= 0):
        raise BrainalignInputError(
            f"fractions must be increasing depths in [0, 1], e.g. (0.5, 0.75, 1.0); got {fractions!r}.")
    if mode not in ("mean", "nearest"):
        raise BrainalignInputError(f"mode must be 'mean' or 'nearest', got {mode!r}.")
    names = features.layer_names
    depth = np.arange(len(names)) / max(1, len(names) - 1)
    groups = {}
    for k, f in enumerate(fr):
        if mode == "nearest":
            members = [names[int(np.argmin(np.abs(depth - f)))]]
        else:
            lo = fr[k - 1] if k else -np.inf
            members = [n for n, d in zip(names, depth) if lo < d <= f + 1e-12]
            if not members:
                raise BrainalignInputError(
                    f"No layer of {names} lies at depths ({lo:g}, {f:g}]; use mode='nearest' or other fractions."
                )
        widths = {features[n].shape[1] for n in members}
        if len(widths) > 1:
            raise BrainalignInputError(
                f"Layers {members} have different widths {sorted(widths)}; they cannot be averaged.")
        groups[f"depth{f:g}"] = members
    arrays = {g: np.mean([features[n] for n in members], axis=0) for g, members in groups.items()}
    if concatenate:
        arrays = {"depth" + "+".join(f"{f:g}" for f in fr): np.hstack(list(arrays.values()))}
    meta = {**features.metadata, "layer_groups": groups, "layer_group_mode": mode}
    return FeatureSet(arrays, features.timeline, meta)
