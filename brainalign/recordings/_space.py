"""Keep ``Recording.to_image`` working after NaN / constant targets were dropped."""

from __future__ import annotations

import numpy as np

from ..core import BrainalignInputError


class KeptTargetsSpace:
    """Wrap a space (masker, SurfaceSpace) whose targets were partly dropped by ``on_bad_targets="drop"``.

    ``inverse_transform`` puts the kept targets' values back at their
    original positions and ``fill_value`` (0) at the dropped ones.

    Examples
    --------
    >>> from brainalign.recordings import SurfaceSpace
    >>> space = KeptTargetsSpace(SurfaceSpace([4]), [True, False, True, True])
    >>> space.inverse_transform(np.array([1.0, 2.0, 3.0])).darrays[0].data.tolist()
    [1.0, 0.0, 2.0, 3.0]
    """

    def __init__(self, space, kept_mask, fill_value: float = 0.0):
        self.space = space
        self.kept_mask = np.asarray(kept_mask, dtype=bool)
        self.fill_value = fill_value

    def inverse_transform(self, values):
        values = np.asarray(values, dtype=np.float32)
        n_kept = int(self.kept_mask.sum())
        if values.ndim == 0 or values.shape[-1] != n_kept:
            raise BrainalignInputError(
                f"Got {values.shape[-1] if values.ndim else 'a scalar'} value(s) per map but the recording kept "
                f"{n_kept} of {self.kept_mask.size} targets; pass one value per kept target."
            )
        full = np.full(values.shape[:-1] + (self.kept_mask.size,), self.fill_value, dtype=np.float32)
        full[..., self.kept_mask] = values
        return self.space.inverse_transform(full)

    def __repr__(self) -> str:
        return f"KeptTargetsSpace({self.space!r}, kept={int(self.kept_mask.sum())}/{self.kept_mask.size})"


def wrap_dropped(recording):
    """Give ``recording`` a space that maps its kept targets back, if some were dropped."""
    kept = recording.metadata.get("kept_target_mask")
    if kept is not None and recording.space is not None:
        recording.space = KeptTargetsSpace(recording.space, kept)
    return recording
