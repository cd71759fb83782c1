"""Score maps on the brain: glass brain, cortical surface, best layer per voxel."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from ..core import BrainalignInputError
from ._utils import finish, layer_colormap, layer_colors, layer_matrix, to_brain_image

logger = logging.getLogger("brainalign.plotting")

Hemi = Literal["left", "right", "both"]


def plot_score_map(
    scores: Any,
    space: Any = None,
    *,
    threshold: float | str | None = None,
    vmax: float | None = None,
    cmap: str = "cold_hot",
    display_mode: str = "lzry",
    title: str | None = None,
    figure=None,
    axes=None,
    output_file: str | Path | None = None,
):
    """Show encoding scores on a glass brain.

    Parameters
    ----------
    scores : Nifti1Image, path, ndarray or tuple
        A score image, or one score per target (voxel) together with ``space``;
        a ``(recording, values)`` tuple works too.
    space : Recording or fitted nilearn masker, optional
        Where the targets live (needed for per-target values).
    threshold : float, "auto" or None
        Hide scores whose absolute value is below this.
    vmax : float, optional
        Colour scale limit (symmetric around 0).
    cmap, display_mode, title :
        Passed to :func:`nilearn.plotting.plot_glass_brain`.
    figure, axes : matplotlib objects, optional
        Where to draw.
    output_file : path, optional
        Also save the picture there.

    Returns
    -------
    display : nilearn display
        ``display.frame_axes.figure`` is the matplotlib figure.

    Examples
    --------
    >>> from nilearn import datasets
    >>> img = datasets.load_mni152_brain_mask(resolution=2)
    >>> display = plot_score_map(img, threshold=0.5)  # doctest: +SKIP
    """
    from nilearn import plotting

    img = to_brain_image(scores, space)
    display = plotting.plot_glass_brain(
        img,
        display_mode=display_mode,
        threshold=threshold,
        vmax=vmax,
        cmap=cmap,
        plot_abs=False,
        colorbar=True,
        title=title,
        figure=figure,
        axes=axes,
    )
    if output_file is not None:
        display.savefig(str(output_file), dpi=120)
    return display


def _fsaverage(mesh: str):
    from nilearn import datasets

    # fsaverage5 ships inside nilearn, so this needs no download.
    meshes = datasets.load_fsaverage(mesh)
    sulcal = datasets.load_fsaverage_data(mesh, data_type="sulcal")
    return meshes, sulcal


def _hemis(hemi: Hemi) -> list[str]:
    if hemi not in ("left", "right", "both"):
        raise BrainalignInputError(f"hemi must be 'left', 'right' or 'both', got {hemi!r}.")
    return ["left", "right"] if hemi == "both" else [hemi]


def _surface_axes(n: int, figure=None, axes=None):
    import matplotlib.pyplot as plt

    if axes is not None:
        axes = list(np.atleast_1d(axes))
        if len(axes) != n:
            raise BrainalignInputError(f"Need {n} 3-D axes (one per hemisphere), got {len(axes)}.")
        return axes[0].figure, axes
    fig = figure or plt.figure(figsize=(4.2 * n + 1.0, 3.6))
    axes = [fig.add_subplot(1, n, i + 1, projection="3d") for i in range(n)]
    fig.subplots_adjust(left=0.0, right=0.86, bottom=0.0, top=0.9, wspace=0.0)
    return fig, axes


def _project(img, meshes):
    from nilearn.surface import SurfaceImage

    # Sample the volume along the pial mesh and display it on the inflated one.
    return SurfaceImage.from_volume(mesh=meshes["pial"], volume_img=img)


def _surface_values(surf) -> np.ndarray:
    """All vertex values of a surface image, left hemisphere first."""
    return np.concatenate([np.asarray(surf.data.parts[h]).ravel() for h in ("left", "right")])


def plot_surface_map(
    scores: Any,
    space: Any = None,
    *,
    hemi: Hemi = "both",
    view: str = "lateral",
    mesh: str = "fsaverage5",
    threshold: float | None = None,
    vmax: float | None = None,
    cmap: str = "cold_hot",
    title: str | None = None,
    figure=None,
    axes=None,
    output_file: str | Path | None = None,
):
    """Project a score map (MNI space) onto the fsaverage cortical surface and show it.

    Parameters
    ----------
    scores, space :
        As in :func:`plot_score_map`; the image must be in MNI space.
    hemi : {"left", "right", "both"}
    view : str
        ``"lateral"``, ``"medial"``, ``"dorsal"`` ...
    mesh : str
        A nilearn fsaverage mesh name; ``"fsaverage5"`` is bundled with nilearn.
    threshold, vmax, cmap, title :
        Display settings (scores with ``|value| < threshold`` are hidden).
    figure, axes : optional
        A figure, or one 3-D axes per hemisphere.
    output_file : path, optional

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from nilearn import plotting

    img = to_brain_image(scores, space)
    meshes, sulcal = _fsaverage(mesh)
    surf = _project(img, meshes)
    hemis = _hemis(hemi)
    fig, axes = _surface_axes(len(hemis), figure, axes)
    data = _surface_values(surf)
    limit = float(vmax) if vmax is not None else float(np.nanmax(np.abs(data))) or 1.0
    for ax, h in zip(axes, hemis):
        plotting.plot_surf_stat_map(
            surf_mesh=meshes["inflated"], stat_map=surf, hemi=h, view=view, bg_map=sulcal,
            threshold=threshold, vmin=-limit, vmax=limit, cmap=cmap, colorbar=False,
            axes=ax, figure=fig,
        )
        ax.set_title(h, fontsize=9)
    cax = fig.add_axes((0.88, 0.2, 0.025, 0.6))
    fig.colorbar(ScalarMappable(Normalize(-limit, limit), matplotlib.colormaps[cmap]), cax=cax)
    if title:
        fig.suptitle(title)
    return finish(fig, output_file)


def best_layer(
    scores: Any, layer_names: Sequence[str] | None = None, *, threshold: float | None = None
) -> tuple[np.ndarray, list[str]]:
    """Index of the best-scoring layer per target (``-1`` where the best score < ``threshold``).

    Parameters
    ----------
    scores : mapping, ndarray (n_layers, n_targets), list of EncodingResult or DataFrame
        Per-layer scores.
    layer_names : sequence of str, optional
        Names (or a selection and order) of the layers.
    threshold : float, optional
        Minimum best score for a target to be assigned a layer.

    Returns
    -------
    best : ndarray of int, shape (n_targets,)
    layer_names : list of str

    Examples
    --------
    >>> best, names = best_layer({"a": [0.1, 0.5], "b": [0.3, 0.2]}, threshold=0.25)
    >>> best.tolist(), names
    ([1, 0], ['a', 'b'])
    """
    matrix, names = layer_matrix(scores, layer_names)
    filled = np.where(np.isfinite(matrix), matrix, -np.inf)
    best = np.argmax(filled, axis=0)
    if threshold is not None:
        best = np.where(filled.max(axis=0) >= threshold, best, -1)
    best[~np.isfinite(filled.max(axis=0))] = -1
    return best, names


def _layer_legend(fig, names: Sequence[str], colors, title: str = "best layer", loc="center right"):
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="none", label=n) for n, c in zip(names, colors)]
    return fig.legend(handles=handles, title=title, loc=loc, fontsize=8, title_fontsize=9, frameon=False)


def plot_best_layer_map(
    scores: Any,
    space: Any = None,
    layer_names: Sequence[str] | None = None,
    *,
    threshold: float | None = None,
    kind: Literal["slices", "surface"] = "slices",
    cmap: str = "viridis",
    hemi: Hemi = "both",
    view: str = "lateral",
    mesh: str = "fsaverage5",
    title: str | None = None,
    figure=None,
    axes=None,
    output_file: str | Path | None = None,
):
    """Colour each voxel (or vertex) by the layer that predicts it best.

    One discrete colour per layer, from early (dark) to late (light), with a
    legend naming the layers.  Targets whose best score is below ``threshold``
    are left uncoloured.

    Parameters
    ----------
    scores : mapping, ndarray (n_layers, n_targets), list of EncodingResult or DataFrame
        Per-layer scores of each target (voxel).
    space : Recording or fitted nilearn masker
        The image space of the targets.
    layer_names : sequence of str, optional
    threshold : float, optional
        Minimum best score (e.g. r) for a voxel to be shown.
    kind : {"slices", "surface"}
        ``"slices"``: axial slices (``display_mode="z"``) with nearest-neighbour
        resampling, so every coloured voxel shows its own label; ``"surface"``: each layer's
        score map is projected onto fsaverage and the best layer is taken per
        vertex.
    cmap : str
        Sequential colormap sampled into one colour per layer.
    hemi, view, mesh :
        Surface settings (``kind="surface"``).
    title, figure, axes, output_file :
        As in :func:`plot_score_map`.

    Returns
    -------
    display or figure
        A nilearn display (``"slices"``) or a matplotlib figure
        (``"surface"``); its figure carries a legend with one entry per layer.
    """
    if kind == "glass":
        raise BrainalignInputError(_NO_GLASS)
    if kind == "slices":
        best, names = best_layer(scores, layer_names, threshold=threshold)
        label_values = np.where(best >= 0, best + 1, 0).astype(np.float32)
        return draw_layer_labels(to_brain_image(label_values, space), names, kind=kind, cmap=cmap, title=title,
                                 figure=figure, axes=axes, output_file=output_file)
    if kind != "surface":
        raise BrainalignInputError(f"kind must be 'slices' or 'surface', got {kind!r}.")
    return _surface_best_layer(scores, space, layer_names, threshold, cmap, hemi, view, mesh, title, figure, axes,
                               output_file)


_NO_GLASS = ("A best-layer map is categorical: a glass-brain maximum projection would show the highest layer "
             "number along each line of sight, not the layer of any voxel. Use kind='slices' (axial cuts) or "
             "kind='surface'.")


def draw_layer_labels(img, names: Sequence[str], *, kind: str = "slices", cmap: str = "viridis",
                      title: str | None = None, legend_title: str = "best layer", figure=None, axes=None,
                      output_file=None, cut_coords: int = 7):
    """Draw an image of layer numbers (1 = first of ``names``, 0 = none) on axial slices, one colour per layer.

    Labels are categorical, so they are shown on slices with nearest-neighbour
    resampling, never as a maximum projection (which would show the highest
    label along each line of sight).
    """
    from nilearn import plotting

    if kind != "slices":
        raise BrainalignInputError(_NO_GLASS if kind == "glass" else f"kind must be 'slices', got {kind!r}.")

    n_layers = len(names)
    colors = layer_colors(n_layers, cmap)
    listed = layer_colormap(n_layers, cmap)
    if figure is None and axes is None:
        import matplotlib.pyplot as plt

        # Leave the right edge of the figure free for the layer legend.
        figure = plt.figure(figsize=(12.0, 2.6))
        axes = [0.0, 0.0, 0.86, 1.0]
    common = dict(
        cmap=listed, vmin=0.5, vmax=n_layers + 0.5, threshold=0.5, colorbar=False,
        title=title, figure=figure, axes=axes,
    )
    display = plotting.plot_stat_map(img, display_mode="z", cut_coords=cut_coords, resampling_interpolation="nearest",
                                     **common)
    fig = display.frame_axes.figure
    _layer_legend(fig, names, colors, title=legend_title)
    if output_file is not None:
        display.savefig(str(output_file), dpi=120)
    return display


def _surface_best_layer(scores, space, layer_names, threshold, cmap, hemi, view, mesh, title, figure, axes,
                        output_file):
    from nilearn import plotting

    matrix, names = layer_matrix(scores, layer_names)
    n_layers = len(names)
    colors = layer_colors(n_layers, cmap)
    listed = layer_colormap(n_layers, cmap)
    meshes, sulcal = _fsaverage(mesh)
    per_layer = []
    for row in matrix:
        per_layer.append(_surface_values(_project(to_brain_image(np.nan_to_num(row, nan=0.0), space), meshes)))
    stacked = np.vstack(per_layer)
    vertex_best = np.argmax(stacked, axis=0)
    keep = np.isfinite(stacked.max(axis=0)) & (stacked.max(axis=0) > 0)
    if threshold is not None:
        keep &= stacked.max(axis=0) >= threshold
    labels = np.where(keep, vertex_best + 1, 0).astype(np.float32)
    from nilearn.surface import SurfaceImage

    n_left = np.asarray(meshes["pial"].parts["left"].coordinates).shape[0]
    label_surf = SurfaceImage(mesh=meshes["pial"], data={"left": labels[:n_left], "right": labels[n_left:]})
    hemis = _hemis(hemi)
    fig, axes = _surface_axes(len(hemis), figure, axes)
    for ax, h in zip(axes, hemis):
        plotting.plot_surf_stat_map(
            surf_mesh=meshes["inflated"], stat_map=label_surf, hemi=h, view=view, bg_map=sulcal,
            threshold=0.5, vmin=0.5, vmax=n_layers + 0.5, cmap=listed, colorbar=False,
            symmetric_cbar=False, axes=ax, figure=fig,
        )
        ax.set_title(h, fontsize=9)
    _layer_legend(fig, names, colors)
    if title:
        fig.suptitle(title)
    return finish(fig, output_file)
