"""One entry point for every way of building designs."""

from __future__ import annotations

from ..core import BrainalignInputError, DesignMatrix, FeatureSet, Recording
from ._delays import fir_design, lagged_design
from ._epochs import epoch_design
from ._grid import SampleGrid
from ._hrf import hrf_design
from ._lanczos import lanczos_design

METHODS = {
    "hrf": hrf_design,
    "lanczos": lanczos_design,
    "fir": fir_design,
    "lagged": lagged_design,
    "epochs": epoch_design,
}


def make_designs(
    features: FeatureSet,
    recording: Recording | SampleGrid,
    method: str = "hrf",
    **kwargs,
) -> dict[str, DesignMatrix]:
    """Design matrices per layer with ``method`` in {"hrf", "lanczos", "fir", "lagged", "epochs"}.

    ``kwargs`` go to :func:`hrf_design`, :func:`lanczos_design`,
    :func:`fir_design`, :func:`lagged_design` (``tmin``, ``tmax``) or
    :func:`epoch_design` (``epochs``, the epochs' Timeline; ``recording``
    must then have one row per epoch).

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Timeline, FeatureSet
    >>> fs = FeatureSet({"l": np.ones((2, 3))}, Timeline(["a", "b"], [1.0, 7.0]))
    >>> sorted(make_designs(fs, SampleGrid({"run-1": 30}, 2.0), "lanczos"))
    ['l']
    """
    if method not in METHODS:
        raise BrainalignInputError(f"Unknown design method {method!r}; choose one of {sorted(METHODS)}.")
    if method == "epochs":
        if "epochs" not in kwargs:
            raise BrainalignInputError("method='epochs' needs epochs= (a Timeline with one event per row).")
        return epoch_design(features, kwargs.pop("epochs"), recording=recording, **kwargs)
    return METHODS[method](features, recording, **kwargs)
