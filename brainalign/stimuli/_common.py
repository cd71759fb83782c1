"""Shared helper: build a Timeline and say which file a problem came from."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import BrainalignInputError, Timeline


def build_timeline(
    tokens: Sequence[str],
    onsets: np.ndarray,
    offsets: np.ndarray | None,
    runs,
    source: str,
) -> Timeline:
    """``Timeline(...)``, with core's error messages prefixed by ``source`` (a file name)."""
    try:
        return Timeline(tokens, onsets, offsets, runs)
    except BrainalignInputError as exc:
        raise BrainalignInputError(f"{source}: {exc}") from None
