"""Variance partitioning between bands (e.g. a layer vs baseline regressors)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, DesignMatrix, Recording
from ._crossval import as_design, cross_validate


def variance_partitioning(
    bands: Mapping[str, DesignMatrix],
    recording: Recording,
    **cv_kwargs,
) -> pd.DataFrame:
    """Unique and shared cross-validated R^2 of each band (e.g. a layer vs baseline regressors).

    Fits the joint model and every leave-one-band-out model with
    :func:`cross_validate` (same folds), then per target::

        unique[band] = R2(all bands) - R2(all bands but this one)
        shared       = R2(all bands) - sum(unique)

    Parameters
    ----------
    bands : mapping of band name to DesignMatrix (same grid), at least two
    recording : Recording
    **cv_kwargs
        Passed to :func:`cross_validate`.

    Returns
    -------
    DataFrame indexed by target with columns ``joint``, ``unique:<band>`` ...,
    ``shared`` (fold-averaged R^2).
    """
    if not isinstance(bands, Mapping):
        raise BrainalignInputError(f"variance_partitioning takes a dict of band name to design, got {type(bands).__name__}.")
    if len(bands) < 2:
        raise BrainalignInputError("variance_partitioning needs at least two bands.")
    designs = {name: as_design(d, recording) for name, d in bands.items()}
    names = list(designs)
    joint = cross_validate(DesignMatrix.stack([designs[n] for n in names], name="joint"), recording, **cv_kwargs)
    table = pd.DataFrame({"joint": joint.mean_r2}, index=pd.Index(joint.target_names, name="target"))
    unique_sum = np.zeros(recording.n_targets)
    for name in names:
        rest = [designs[n] for n in names if n != name]
        without = cross_validate(DesignMatrix.stack(rest, name=f"without:{name}"), recording, **cv_kwargs)
        unique = joint.mean_r2 - without.mean_r2
        table[f"unique:{name}"] = unique
        unique_sum += unique
    table["shared"] = joint.mean_r2 - unique_sum
    return table
