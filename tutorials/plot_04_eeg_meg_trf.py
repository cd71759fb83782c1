"""
Temporal response functions for EEG and MEG
===========================================

fMRI measures a slow haemodynamic echo of neural activity; EEG and MEG follow it
millisecond by millisecond. An encoding model for M/EEG is therefore a
**temporal response function** (TRF): the response at time ``t`` is a weighted
sum of the stimulus features at ``t - lag`` for every lag in a window (here
-100 to 600 ms). It is still a ridge regression, on a *lagged* design.

Part 1 fits a TRF on a simulated continuous-speech EEG recording, built as an
:class:`mne.io.RawArray` and loaded like any MNE recording, and checks the
recovered response functions against the planted ones. Part 2 runs
event-related encoding on a real recording, the EEGLAB tutorial EEG.
"""

# %%
import os
from importlib import resources

import matplotlib.pyplot as plt
import mne
import numpy as np

import brainalign as ba
from brainalign.alignment import lagged_design
from brainalign.encoding import RidgeEncoder, cross_validate
from brainalign.features import bundled_model_dir, extract_text_features
from brainalign.plotting import plot_prediction, plot_sensor_topomap, sensor_info
from brainalign.recordings import load_meg_eeg
from brainalign.simulation import simulate_meg_eeg
from brainalign.stimuli import synthetic_speech_timeline

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
SFREQ = 64.0
TMIN, TMAX = -0.1, 0.6

# %%
# Part 1 -- continuous speech, simulated
# --------------------------------------
# A story with a natural speech timing, and word features from the real
# all-MiniLM-L6-v2. To keep the lagged design small we keep the first four
# principal components of one layer (computed from the stimulus alone).
text = resources.files("brainalign").joinpath("data", "story_lighthouse.txt").read_text(encoding="utf-8")
if FAST:
    text = " ".join(text.split()[:400])
timeline = synthetic_speech_timeline(text, run="story", start=1.0)
features = extract_text_features(timeline, bundled_model_dir(), layers=["layer.3"], context_tokens=64)
X = features["layer.3"]
Xz = (X - X.mean(0)) / (X.std(0) + 1e-6)
pcs = Xz @ np.linalg.svd(Xz, full_matrices=False)[2][:4].T
word = ba.FeatureSet({"word": pcs}, timeline)

# %%
# 32 EEG sensors with the positions of the BioSemi 32-channel cap. Each sensor
# follows the word features through its own gamma-shaped TRF peaking between
# 100 and 400 ms, plus autocorrelated noise. The signal-to-noise ratio is
# highest at the top of the head and falls towards its rim, so the score map
# has a topography to recover.
info = sensor_info(mne.channels.make_standard_montage("biosemi32").ch_names, "biosemi32", sfreq=SFREQ)
height = np.array([ch["loc"][2] for ch in info["chs"]])
snr = 0.05 + 0.75 * (height - height.min()) / np.ptp(height)
simulated, truth = simulate_meg_eeg(word, info=info, trf_kernel=(0.0, 0.5), snr=snr, seed=0)

# %%
# Any MNE recording enters brainalign the same way: here an in-memory
# :class:`mne.io.RawArray` (a FIF, EDF, BrainVision or EEGLAB file works too).
# MNE does the filtering; the sensor ``Info`` is kept as the recording's space.
raw = mne.io.RawArray(simulated.data.T * 1e-6, info, verbose="error")
recording, raw = load_meg_eeg(raw, l_freq=0.5, h_freq=20.0, run="story")
print(recording)

# %%
# The lagged design: one copy of the four features per lag, 46 lags from -100
# to 600 ms at 64 Hz. Negative lags (the response *before* the word) act as a
# sanity check: they should get no weight.
design = lagged_design(word, recording, tmin=TMIN, tmax=TMAX)["word"]
print(design.X.shape, "(samples x features*lags)")

# %%
# Cross-validation on one continuous recording uses contiguous blocks, with a
# gap between training and test blocks as long as the lag window, so that no
# training sample shares a stimulus with a test sample. Shuffled folds would
# inflate the scores.
result = cross_validate(design, recording, return_predictions=True)
print(result)
fig = plot_sensor_topomap(result.mean_r, recording, label="cross-validated r", cmap="magma", vlim=(0, None),
                          title="TRF model, r per sensor")

# %%
# Held-out prediction of the best sensor, against the measured signal:
best = int(np.argmax(result.mean_r))
times = recording.sample_times()
span = slice(0, int(30 * SFREQ))
fig = plot_prediction(recording.data[span, best], result.predictions[span, best], times[span],
                      label=f"{recording.target_names[best]} (first 30 s)")

# %%
# The TRF itself. Refit on all the data to read the weights: one weight per
# feature and lag (the design's columns are lag-major). In this simulation all
# features of a sensor share one response shape, so the first singular vector of
# the sensor's (lags x features) weight matrix is its estimated TRF; it should
# match the planted kernel, and stay flat at negative lags.
encoder = RidgeEncoder().fit(design.X, recording.data)
n_features = word["word"].shape[1]
weights = encoder.coef_[:, best].reshape(-1, n_features)  # (n_lags, n_features)
lags = TMIN + np.arange(weights.shape[0]) / SFREQ
u, singular, _ = np.linalg.svd(weights, full_matrices=False)
estimated = u[:, 0] * singular[0]
true_lags = np.asarray(truth.params["lags_s"])
planted = truth.kernels[best]
# a singular vector's sign is arbitrary: align it with the planted kernel
if np.dot(np.interp(true_lags, lags, estimated), planted) < 0:
    estimated = -estimated
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
ax.plot(lags * 1000, estimated / np.abs(estimated).max(), label="estimated")
ax.plot(true_lags * 1000, planted / np.abs(planted).max(), "--", label="planted kernel")
ax.axvline(0, color="0.6", lw=0.8)
ax.set(xlabel="lag (ms)", ylabel="weight (normalised)", title=f"TRF at {recording.target_names[best]}")
ax.legend(fontsize=8)

# %%
# Part 2 -- event-related encoding on real EEG
# --------------------------------------------
# The EEGLAB tutorial recording (32 channels, 128 Hz) has ``square`` target
# stimuli and ``rt`` button presses as annotations. It ships with the example
# data of this project; the tutorial skips this part when the data is absent.
# The file has no channel positions, so scores are drawn per channel.
from brainalign.datasets import load_eeglab_tutorial  # noqa: E402
from brainalign.core import BrainalignInputError  # noqa: E402

try:
    eeg = load_eeglab_tutorial(l_freq=1.0, h_freq=20.0, sfreq=SFREQ)
except (BrainalignInputError, FileNotFoundError, OSError) as err:
    eeg = None
    print("EEGLAB tutorial data not available:", err)

# %%
# Two event types become two indicator features; the lagged design then fits
# one response function per event type and channel -- the regression
# equivalent of an averaged ERP that also disentangles overlapping responses.
if eeg is not None:
    events = eeg.timeline  # the annotations: square targets and rt presses
    kinds = np.array(events.tokens)
    onehot = np.column_stack([(kinds == k).astype(float) for k in ("square", "rt")])
    event_features = ba.FeatureSet({"events": onehot}, events)
    event_design = lagged_design(event_features, eeg.recording, tmin=-0.1, tmax=0.8)["events"]
    event_result = cross_validate(event_design, eeg.recording, return_predictions=True)
    print(event_result)

    order = np.argsort(event_result.mean_r)[::-1]
    fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
    ax.bar(np.arange(len(order)), event_result.mean_r[order], color="C0")
    ax.set_xticks(np.arange(len(order)), np.array(eeg.recording.target_names)[order], rotation=90, fontsize=7)
    ax.set(ylabel="cross-validated r", title="event-related encoding, EEGLAB tutorial EEG")

    # 30 s of the best channel: each fold's prediction comes from a model that
    # never saw that part of the recording
    best = int(order[0])
    span = slice(0, int(30 * SFREQ))
    fig = plot_prediction(eeg.recording.data[span, best], event_result.predictions[span, best],
                          eeg.recording.sample_times()[span], label=eeg.recording.target_names[best])
plt.show()
