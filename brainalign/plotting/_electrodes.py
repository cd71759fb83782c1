"""Intracranial electrodes on a glass brain: one marker per contact, coloured by a per-electrode value."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import BrainalignInputError


def _coordinates(positions) -> tuple[np.ndarray, list[str] | None]:
    """(n, 3) MNI mm from an (n, 3) array, a table with x/y/z, or an MNE object (loc in metres)."""
    if hasattr(positions, "columns") and {"x", "y", "z"} <= set(positions.columns):
        names = list(positions["name"]) if "name" in positions.columns else None
        return positions[["x", "y", "z"]].to_numpy(float), names
    info = getattr(positions, "info", positions)
    if hasattr(info, "get") and "chs" in info:
        return np.array([np.asarray(ch["loc"][:3], float) * 1000.0 for ch in info["chs"]]), list(info["ch_names"])
    coords = np.asarray(positions, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise BrainalignInputError(
            f"positions must be (n, 3) MNI mm, a table with x/y/z columns or an MNE Info, got shape {coords.shape}."
        )
    return coords, None


def plot_electrodes(
    values,
    positions,
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    threshold=None,
    node_size: float = 30.0,
    display_mode: str = "lzr",
    figure=None,
    axes=None,
):
    """Per-electrode values (scores, differences, site flags) as markers on a glass brain.

    Parameters
    ----------
    values : array (n_electrodes,) or mapping name -> value
        A mapping is matched to ``positions`` by channel name (electrodes
        without a value are drawn as grey, NaN markers are dropped).
    positions : (n, 3) MNI mm, DataFrame (``name, x, y, z``, e.g.
        :func:`brainalign.recordings.electrode_table`) or MNE Raw/Info.
    threshold : float or None
        Markers with ``|value|`` below it are not drawn.

    Returns
    -------
    nilearn display

    Examples
    --------
    >>> import numpy as np
    >>> display = plot_electrodes([0.1, 0.5], [[-40.0, -20.0, 0.0], [40.0, -20.0, 0.0]])
    >>> display.close()
    """
    from nilearn.plotting import plot_markers

    coords, pos_names = _coordinates(positions)
    names = list(names) if names is not None else pos_names
    if hasattr(values, "items"):
        if names is None:
            raise BrainalignInputError("values is a mapping but the positions carry no channel names; pass names=.")
        vals = np.array([float(values.get(n, np.nan)) for n in names])
    else:
        vals = np.asarray(values, dtype=float).ravel()
    if vals.size != coords.shape[0]:
        raise BrainalignInputError(f"{vals.size} values for {coords.shape[0]} electrode positions.")
    keep = np.isfinite(vals) & np.all(np.isfinite(coords), axis=1)
    if threshold is not None:
        keep &= np.abs(np.nan_to_num(vals)) >= float(threshold)
    if not keep.any():
        raise BrainalignInputError("No electrode to draw: every value is NaN, below threshold or without a position.")
    return plot_markers(vals[keep], coords[keep], node_cmap=cmap, node_vmin=vmin, node_vmax=vmax,
                        node_size=node_size, display_mode=display_mode, title=title, figure=figure, axes=axes)
