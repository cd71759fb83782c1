"""The typed ``[recording]`` table of a study on your own files (and ``brainalign encode``'s recording flags)."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field

from ..core import Options

__all__ = ["RecordingFiles"]


class RecordingFiles(Options):
    """Recording files of one subject: ROI/time-course text or .npy files, or NIfTI images, one per run."""

    files: Union[list[str], dict[str, list[str]]] = Field(
        description="one file per run (ROI text/.npy or NIfTI); a study may give {subject = [files]}")
    tr: Optional[float] = Field(None, gt=0, description=(
        "sampling period in seconds (required for text files; read from NIfTI headers)"))
    mask: Optional[str] = Field(None, description="voxel mask for NIfTI recordings (default: computed)")
    runs: Optional[list[str]] = Field(None, description="run labels, one per file (default run-1, run-2, ...)")
    subject: str = Field("sub-01", description="subject label")
    skip_rows: int = Field(0, ge=0, description="leading rows dropped from each text run")
    clean: Literal["none", "detrend", "zscore"] = Field("detrend", description=(
        "per-run cleaning: detrend + z-score, z-score only, or none"))
