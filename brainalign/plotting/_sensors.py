"""Sensor-space figures for M/EEG: topographic maps of per-channel scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core import BrainalignInputError, Recording
from ._utils import as_vector, finish, new_axes


def _default_montage() -> str:
    import mne

    # MNE >= 1.13 renamed the template montages (standard_1020 -> colin27_1020).
    builtin = mne.channels.get_builtin_montages()
    return "colin27_1020" if "colin27_1020" in builtin else "standard_1020"


def sensor_info(ch_names: Sequence[str], montage: str | None = None, ch_type: str = "eeg", sfreq: float = 100.0):
    """An ``mne.Info`` with positions from a template montage for the given channel names.

    Parameters
    ----------
    ch_names : sequence of str
        Channel names as in the montage (case-insensitive), e.g. ``"Fz"``.
    montage : str, optional
        A name from :func:`mne.channels.get_builtin_montages`; default the
        10-20 template of this MNE version.
    ch_type : str
    sfreq : float
        Sampling rate recorded in the info (Hz).

    Returns
    -------
    info : mne.Info

    Examples
    --------
    >>> info = sensor_info(["Fz", "Cz", "Pz", "Oz"])
    >>> len(info["ch_names"])
    4
    """
    import mne

    info = mne.create_info(list(ch_names), sfreq=float(sfreq), ch_types=ch_type)
    name = montage or _default_montage()
    template = mne.channels.make_standard_montage(name)
    known = {c.lower() for c in template.ch_names}
    missing = [c for c in ch_names if c.lower() not in known]
    if missing:
        raise BrainalignInputError(
            f"Channel(s) {missing[:10]} are not in montage {name!r}; pass an mne.Info with positions "
            "(e.g. raw.info after raw.set_montage(...)) or another montage name."
        )
    info.set_montage(template, match_case=False)
    return info


def plot_sensor_topomap(
    values: Any,
    info: Any = None,
    *,
    ch_names: Sequence[str] | None = None,
    montage: str | None = None,
    ch_type: str | None = None,
    cmap: str = "RdBu_r",
    vlim: tuple[float | None, float | None] | None = None,
    label: str = "r",
    show_names: bool = False,
    title: str | None = None,
    ax=None,
    output_file: str | Path | None = None,
):
    """Topographic map of one value per sensor (e.g. encoding r per EEG channel).

    Parameters
    ----------
    values : array-like, shape (n_channels,)
    info : mne.Info, Recording, Evoked or Raw, optional
        Sensor positions.  A :class:`~brainalign.Recording` uses its ``space``.
    ch_names : sequence of str, optional
        Without ``info``: channel names placed with ``montage``.
    montage : str, optional
        Template montage for ``ch_names`` (default: the 10-20 template).
    ch_type : str, optional
        Which sensors to draw when ``info`` mixes types (default: the only type).
    cmap, vlim : colour map and limits (default symmetric around 0)
    label : str
        Colour-bar label.
    show_names : bool
        Write channel names on the map.
    title, ax, output_file :
        Title, axes to draw on, file to save to.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The map's image and a colour bar.

    Examples
    --------
    >>> fig = plot_sensor_topomap([0.1, 0.2, 0.3, 0.2], ch_names=["Fz", "Cz", "Pz", "Oz"])
    """
    import mne

    vec = as_vector(values, "values")
    if info is None:
        if ch_names is None:
            raise BrainalignInputError("plot_sensor_topomap needs sensor positions: pass info= or ch_names=.")
        info = sensor_info(ch_names, montage)
    elif isinstance(info, Recording):
        if not isinstance(info.space, mne.Info):
            raise BrainalignInputError("This Recording has no sensor space (space must be an mne.Info).")
        info = info.space
    elif hasattr(info, "info") and isinstance(info.info, mne.Info):
        info = info.info
    if not isinstance(info, mne.Info):
        raise BrainalignInputError(f"info must be an mne.Info, Recording, Raw or Evoked; got {type(info).__name__}.")
    if len(info["ch_names"]) != vec.size:
        raise BrainalignInputError(f"{vec.size} values for {len(info['ch_names'])} channels in info.")
    types = sorted(set(info.get_channel_types()))
    if ch_type is None:
        if len(types) > 1:
            raise BrainalignInputError(f"info mixes channel types {types}; pass ch_type= one of them.")
        ch_type = types[0]
    picks = mne.pick_types(info, meg=ch_type if ch_type in ("mag", "grad") else False,
                           eeg=ch_type == "eeg", exclude=[])
    if picks.size == 0:
        raise BrainalignInputError(f"No {ch_type!r} channels in info (types: {types}).")
    sub_info = mne.pick_info(info, picks)
    positions = np.array([ch["loc"][:3] for ch in sub_info["chs"]])
    if not np.isfinite(positions).all() or np.allclose(positions, 0):
        raise BrainalignInputError(
            "The channels have no positions: set a montage first (raw.set_montage) or pass ch_names with a montage."
        )
    data = vec[picks]
    if vlim is None:
        limit = float(np.nanmax(np.abs(data))) or 1.0
        vlim = (-limit, limit)
    fig, ax = new_axes(ax, figsize=(4.2, 3.6))
    image, _ = mne.viz.plot_topomap(
        data, sub_info, ch_type=ch_type, axes=ax, cmap=cmap, vlim=vlim, show=False,
        names=[sub_info["ch_names"][i] for i in range(len(picks))] if show_names else None,
    )
    fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    if title:
        ax.set_title(title)
    return finish(fig, output_file)
