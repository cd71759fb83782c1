"""
Intracranial (sEEG) encoding: high gamma, electrodes and integration sites
==========================================================================

Stereo-EEG electrodes are shafts of contacts (``LA1, LA2, ...``) implanted in
the brain.  Their high-gamma (70-150 Hz) amplitude tracks local population
firing, and that is what encoding models usually predict.  This tutorial runs
the whole chain on a simulated patient with a known answer:

1. a raw sEEG recording (MNE, with an MNI montage) in which some contacts'
   high-gamma amplitude follows a stimulus feature, on top of a reference
   electrode that pollutes every monopolar channel;
2. :func:`~brainalign.recordings.load_ieeg`: line-noise notch, **bipolar**
   re-referencing and the high-gamma envelope;
3. a lagged (TRF) encoding model, scores on a glass brain;
4. event-locked targets (channel x lag) and the "integration site" criterion
   of Subramaniam et al. (2024): a multimodal model must beat the image model,
   the text model *and* their linear combination.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.signal import butter, sosfiltfilt

from brainalign.alignment import lagged_design
from brainalign.core import DesignMatrix, Timeline
from brainalign.encoding import compare_models, composite_sites, cross_validate, cross_validate_models
from brainalign.encoding import winners_per_region
from brainalign.plotting import plot_electrodes
from brainalign.recordings import (
    coordinate_atlas_labels,
    electrode_table,
    event_locked_targets,
    load_ieeg,
    region_summary,
)
from brainalign.simulation import event_drives, simulate_ieeg

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
SFREQ = 400.0
rng = np.random.default_rng(0)

# %%
# A simulated patient
# -------------------
# Two shafts of 8 contacts.  Contacts LA3 and RH5 respond to a slow stimulus
# feature 100 ms later with more high-gamma power; every contact also picks up
# the reference electrode's own high-gamma activity (a different slow signal).
duration = 60 if FAST else 180
n = int(duration * SFREQ)


def slow_signal():
    x = sosfiltfilt(butter(2, 1.0, fs=SFREQ, output="sos"), rng.normal(size=n))
    return x / x.std()


feature, reference_activity = slow_signal(), slow_signal()
lag = int(0.1 * SFREQ)
drive = np.concatenate([np.zeros(lag), feature[:-lag]])[:, None]
raw, truth = simulate_ieeg(drive, {"LA3": 0, "RH5": 0}, sfreq=SFREQ, common_drive=reference_activity, seed=1)
print(raw)

# %%
# Re-referencing and high gamma
# -----------------------------
# Bipolar re-referencing subtracts neighbouring contacts of a shaft (``LA2-LA3``
# ...), which removes what they share: the reference electrode.  The high-gamma
# envelope is the mean of four normalised sub-band Hilbert amplitudes, then
# resampled to 20 Hz.  We fit the same lagged model (0-300 ms) with and without
# re-referencing.


def encode(reference):
    rec, _ = load_ieeg(raw, reference=reference, line_freq=50.0, high_gamma=True, sfreq=20.0)
    design = DesignMatrix(feature[::20][: rec.n_samples, None], rec.runs, rec.sampling_period, "feature")
    lagged = lagged_design(design, tmin=0.0, tmax=0.3)["feature"]
    return rec, cross_validate(lagged, rec, backend="numpy").r.mean(0)


mono, r_mono = encode(None)
bipolar, r_bipolar = encode("bipolar")
fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
axes[0].bar(mono.target_names, r_mono)
axes[0].set_title("monopolar (reference in every channel)")
axes[1].bar(bipolar.target_names, r_bipolar, color=["C3" if c in truth["bipolar"] else "C0"
                                                   for c in bipolar.target_names])
axes[1].set_title("bipolar: planted pairs in red")
axes[0].set_ylabel("cross-validated r")
for ax in axes:
    ax.tick_params(axis="x", rotation=90, labelsize=7)
fig.tight_layout()

# %%
# Electrodes on a glass brain
# ---------------------------
# Bipolar channels sit between their two contacts; their MNI coordinates come
# from the montage.  Region labels come from an atlas: nilearn ships no
# labelled volume atlas offline, so here the nearest of Seitzman et al.'s (2018)
# 300 ROIs (their network) within 10 mm; with an atlas image, use
# :func:`~brainalign.recordings.atlas_labels`.
table = electrode_table(bipolar)
table["region"] = coordinate_atlas_labels(table[["x", "y", "z"]], max_distance_mm=10)
print(table.round(1).to_string(index=False))
display = plot_electrodes(dict(zip(bipolar.target_names, r_bipolar)), table, cmap="magma", vmin=0, vmax=0.8,
                          title="high-gamma encoding r")
print(region_summary(r_bipolar, table["region"]).round(3).to_string(index=False))

# %%
# Integration sites from event-locked responses
# ---------------------------------------------
# Now 300 image-caption pairs (150 in fast mode), one per second.  LA3
# responds to an image x text interaction, RH3 to the image only, RH7 to the
# text only.  Each channel's high gamma, averaged in 100 ms windows at 100, 200
# and 300 ms after each event, is a target.
n_ev = 150 if FAST else 300
img, txt = rng.normal(size=(n_ev, 3)), rng.normal(size=(n_ev, 3))
onsets = 1.0 + np.arange(n_ev)
values = np.column_stack([(img * txt) @ rng.normal(size=3) + 0.3 * img @ rng.normal(size=3),
                          img @ rng.normal(size=3), txt @ rng.normal(size=3)])
n = int((onsets[-1] + 2) * SFREQ)
raw2, truth2 = simulate_ieeg(event_drives(onsets, values, n, SFREQ), {"LA3": 0, "RH3": 1, "RH7": 2},
                             sfreq=SFREQ, seed=2)
rec2, _ = load_ieeg(raw2, reference="bipolar", line_freq=50.0, high_gamma=True, sfreq=100.0)
events = Timeline([f"pair{i}" for i in range(n_ev)], onsets, None, [rec2.run_ids[0]] * n_ev)
targets = event_locked_targets(rec2, events, window_ms=100, lags_ms=[100, 200, 300])

results = cross_validate_models({"clip": np.hstack([img, txt, img * txt]), "vit": img, "bert": txt}, targets,
                                combinations={"vit+bert": ["vit", "bert"]}, backend="numpy")
comparison = compare_models(results, targets, n_bootstraps=300 if FAST else 1000, criteria={
    "integration": {"multimodal": "clip", "against": ["vit", "bert", "vit+bert"]}})
sites = composite_sites(comparison, "integration")
print("integration sites:", sites.loc[sites["site"], "target"].tolist())
print("planted:", [c for c, col in truth2["bipolar"].items() if col == 0])

# %%
# Counts per region: how many channel x lag targets each comparison wins.
regions = {t: t.split("@")[0][:2] for t in targets.target_names}  # here: the shaft
counts = winners_per_region(comparison, regions, sites=sites)
print(counts.to_string(index=False))
