"""Time alignment: model features on timeline events -> design matrices on a recording's samples.

Every function works run by run (a timeline's run ``r`` goes to the
recording's run ``r``) and never lets a regressor leak across runs.

- :func:`hrf_design` — HRF-convolved event regressors (fMRI).
- :func:`lanczos_design` — Lanczos-downsampled word features + FIR delays.
- :func:`fir_design` / :func:`fir_delays` — features per scan + delays.
- :func:`resample_to_samples` / :func:`lagged_design` — M/EEG TRF designs.
- :func:`fine_grid_design` — features summed over fine bins inside each sample
  (for the trainable temporal encoder).
- :func:`epoch_design` — one row per epoch (trial-wise recordings).
- :func:`event_rate_design` — the word-rate baseline.
- :func:`trim_edges` — drop zero-padded run starts from designs and recording.
- :func:`make_designs` — dispatch by method name.
- :func:`multimodal_designs` — several models / modalities (movie frames,
  soundtrack, transcript) on one grid, one band per modality and layer.
"""

from ._api import METHODS, make_designs
from ._epochs import epoch_design
from ._fine import fine_grid_design
from ._delays import fir_delays, fir_design, lagged_design, resample_to_samples, trim_edges
from ._grid import SampleGrid, select_layers, shift_within_runs
from ._hrf import event_rate_design, hrf_design, hrf_kernels
from ._lanczos import lanczos_design, lanczos_kernel
from ._multimodal import band_name, multimodal_designs
from ._options import ALIGNMENT_OPTIONS, AlignmentOptions, alignment_options

__all__ = [
    "ALIGNMENT_OPTIONS",
    "alignment_options",
    "METHODS",
    "SampleGrid",
    "band_name",
    "epoch_design",
    "event_rate_design",
    "fir_delays",
    "fir_design",
    "fine_grid_design",
    "hrf_design",
    "hrf_kernels",
    "lagged_design",
    "lanczos_design",
    "lanczos_kernel",
    "make_designs",
    "multimodal_designs",
    "resample_to_samples",
    "select_layers",
    "shift_within_runs",
    "trim_edges",
]
