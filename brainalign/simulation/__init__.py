"""Simulated participants with a known answer: which layer drives which target.

- :func:`simulate_fmri` — HRF-convolved layer features + AR(1) noise, optionally
  on a brain mask so that results map back to images.
- :func:`simulate_meg_eeg` — layer features filtered by a per-sensor temporal
  response function + AR(1) noise, with an ``mne.Info`` sensor space.
- :func:`simulate_multimodal_fmri` — a movie-watching participant whose targets
  each follow one layer of one modality (frames, soundtrack, transcript).
- :class:`SimulationTruth` — the planted layers, weights, SNR and noise-free signal.
"""

from ._fmri import simulate_fmri
from ._meg import gamma_kernel, simulate_meg_eeg
from ._multimodal import simulate_multimodal_fmri
from ._truth import SimulationTruth

__all__ = ["SimulationTruth", "gamma_kernel", "simulate_fmri", "simulate_meg_eeg", "simulate_multimodal_fmri"]
