"""Brain recordings: fMRI volumes and surfaces, ROI time courses, M/EEG.

Every loader returns a :class:`brainalign.Recording` (samples x targets,
split into runs) that keeps the way back to brain space: a fitted nilearn
masker for volumes (``to_image``), a :class:`SurfaceSpace` for GIfTI, an
``mne.Info`` for sensors (``to_evoked``).  Cleaning (detrend, filtering,
confound regression, standardisation) is done per run with
``nilearn.signal.clean``; M/EEG filtering and resampling use MNE.
"""

from ._checks import check_timeline_fits
from ._files import baseline_from_files, design_from_file, file_stem, load_recording, read_matrix
from ._fmri import header_tr, load_fmri, load_image
from ._ieeg import (
    atlas_labels,
    coordinate_atlas_labels,
    electrode_table,
    event_locked_targets,
    high_gamma_envelope,
    load_bids_ieeg,
    load_ieeg,
    region_summary,
    rereference_ieeg,
    shaft_contacts,
)
from ._meeg import epochs_recording, events_timeline, load_bids_meg_eeg, load_meg_eeg, read_raw
from ._options import RecordingFiles
from ._space import KeptTargetsSpace
from ._tagging import epochs_fft, evoked_spectrum, itpc_spectrum, phase_locking_states, tag_channels, tagging_snr
from ._surface import SurfaceSpace, load_roi_timecourses, load_surface

__all__ = [
    "baseline_from_files",
    "design_from_file",
    "file_stem",
    "load_recording",
    "read_matrix",
    "KeptTargetsSpace",
    "SurfaceSpace",
    "atlas_labels",
    "coordinate_atlas_labels",
    "electrode_table",
    "event_locked_targets",
    "high_gamma_envelope",
    "load_bids_ieeg",
    "load_ieeg",
    "region_summary",
    "rereference_ieeg",
    "shaft_contacts",
    "check_timeline_fits",
    "epochs_fft",
    "epochs_recording",
    "evoked_spectrum",
    "events_timeline",
    "header_tr",
    "itpc_spectrum",
    "load_bids_meg_eeg",
    "load_fmri",
    "load_image",
    "load_meg_eeg",
    "load_roi_timecourses",
    "load_surface",
    "phase_locking_states",
    "read_raw",
    "tag_channels",
    "tagging_snr",
    "RecordingFiles",
]
