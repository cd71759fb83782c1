"""Simulated participants with a known answer: which layer drives which target.

- :func:`simulate_fmri` — HRF-convolved layer features + AR(1) noise, optionally
  on a brain mask so that results map back to images.
- :func:`simulate_meg_eeg` — layer features filtered by a per-sensor temporal
  response function + AR(1) noise, with an ``mne.Info`` sensor space.
- :func:`simulate_multimodal_fmri` — a movie-watching participant whose targets
  each follow one layer of one modality (frames, soundtrack, transcript).
- :func:`simulate_linear_truth`, :func:`simulate_interaction_truth`,
  :func:`simulate_shared_subjects`, :func:`simulate_routed_tokens` — known truths
  for trainable encoders (when a deep encoder must, and must not, beat ridge).
- :func:`simulate_ieeg` — an sEEG Raw (MNI montage) whose high-gamma amplitude
  follows planted drives; :func:`event_drives` turns per-event values into drives.
- :class:`SimulationTruth` — the planted layers, weights, SNR and noise-free signal.
"""

from ._deep import (
    DeepSimulation,
    TokenSimulation,
    simulate_interaction_truth,
    simulate_linear_truth,
    simulate_routed_tokens,
    simulate_shared_subjects,
)
from ._fmri import simulate_fmri
from ._ieeg import event_drives, simulate_ieeg
from ._meg import gamma_kernel, simulate_meg_eeg
from ._multimodal import simulate_multimodal_fmri
from ._truth import SimulationTruth

__all__ = ["SimulationTruth", "gamma_kernel", "simulate_fmri", "simulate_meg_eeg", "simulate_multimodal_fmri"]
# known truths for trainable encoders (kept on their own line: a small, local edit)
__all__ += ["DeepSimulation", "TokenSimulation", "simulate_interaction_truth", "simulate_linear_truth",
            "simulate_routed_tokens", "simulate_shared_subjects"]
# intracranial simulation (its own line, as above)
__all__ += ["event_drives", "simulate_ieeg"]
