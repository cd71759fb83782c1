"""Time grids of media features: a regular rate, or explicit times checked against the media's length."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..core import BrainalignInputError


def media_time_grid(times, rate, duration: float, *, rate_name: str, rate_unit: str, media: str,
                    include_end: bool, default: Callable[[], np.ndarray | None]) -> np.ndarray | None:
    """Seconds at which features are taken: every ``1 / rate`` s, the given ``times``, or ``default()``.

    ``include_end``: whether a time equal to ``duration`` is inside the media
    (an audio signal has a value there; a video's last frame starts before it).
    """
    if times is not None and rate is not None:
        raise BrainalignInputError(f"Pass either times= or {rate_name}=, not both.")
    if rate is not None:
        value = float(rate)
        if not (np.isfinite(value) and value > 0):
            raise BrainalignInputError(f"{rate_name} must be a positive number of {rate_unit}, got {rate!r}.")
        return np.arange(int(np.ceil(duration * value - 1e-9))) / value
    if times is None:
        return default()
    grid = np.asarray(times, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise BrainalignInputError(f"times must be a non-empty 1-D array of seconds, got shape {grid.shape}.")
    if not np.isfinite(grid).all():
        raise BrainalignInputError("times contains NaN or inf.")
    outside = (grid < 0) | ((grid > duration) if include_end else (grid >= duration))
    if outside.any():
        raise BrainalignInputError(
            f"{int(outside.sum())} time(s) fall outside the {media} (0 to {duration:g} s), "
            f"e.g. {grid[outside][:3].tolist()}."
        )
    if np.any(np.diff(grid) < 0):
        raise BrainalignInputError("times must be non-decreasing.")
    return grid
