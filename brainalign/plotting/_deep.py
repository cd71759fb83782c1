"""Figures of trainable encoders: routing maps of attention readouts."""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError


def plot_routing_maps(maps, labels=None, *, ncols: int = 4, cmap: str = "magma"):
    """One panel per ROI / query of mean routing maps (n_queries, H, W); returns the matplotlib figure.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_routing_maps(np.random.default_rng(0).random((2, 4, 4)), ["V1", "FFA"])
    >>> len(fig.axes)
    2
    """
    import matplotlib.pyplot as plt

    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 3:
        raise BrainalignInputError(f"routing maps must be (n_queries, H, W), got shape {maps.shape}.")
    n = maps.shape[0]
    labels = list(range(n)) if labels is None else list(labels)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.4 * nrows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(maps[k], cmap=cmap)
        ax.set_title(str(labels[k]), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Routing maps (mean attention per query)")
    return fig
