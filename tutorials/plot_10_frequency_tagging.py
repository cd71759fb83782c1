"""
Frequency tagging in models and brains
======================================

Present four-word sentences (``[Adj N][V N]``: *old farmers sell cakes*)
back to back, one word every 0.25 s. Words then recur at 4 Hz, two-word
phrases at 2 Hz and sentences at 1 Hz. A brain (Ding et al., 2016) or a model
unit (An et al., 2025) that builds phrases and sentences shows spectral peaks
at 2 Hz and 1 Hz; a control stream with the words shuffled *within* each
sentence keeps the words and the 4-word rhythm of sentence boundaries but not
the structure.

This tutorial tags the MLP units of the real all-MiniLM-L6-v2, tags the
channels of a simulated MEG recording, and compares the two by
representational similarity of their spectra.
"""

# %%
import os

import matplotlib.pyplot as plt
import mne
import numpy as np

from brainalign.features import TextModel, bundled_model_dir
from brainalign.localize import load_language_model, spectra_rsa, tag_units
from brainalign.recordings import itpc_spectrum, tag_channels
from brainalign.stimuli import isochronous_streams

FAST = os.environ.get("BRAINALIGN_FAST") == "1"

# %%
# The streams
# -----------
# Sentences come from a small corpus written for brainalign; each stream
# presents them in a new random order, and its control shuffles the words of
# every sentence.
streams = isochronous_streams(n_streams=2 if FAST else 4, sentences_per_stream=32 if FAST else 64, seed=0)
print(streams.rates)
print(" ".join(streams.experiment.tokens[:12]), "...")
print(" ".join(streams.control.tokens[:12]), "...")

# %%
# Tag the model's units
# ---------------------
# Every MLP unit (the input of each block's down-projection) gives one value
# per word: a time series sampled at 4 Hz. A unit tags a level when its
# amplitude at that rate beats the 95th percentile of a word-order permutation
# null *and* beats its control-stream amplitude by z > 2 (z over all units).
model, tokenizer = load_language_model(bundled_model_dir())
text_model = TextModel(model, tokenizer, "all-MiniLM-L6-v2")
tags = tag_units(text_model, streams, unit_types=("mlp",), n_permutations=200 if FAST else 1000)["mlp"]
print(tags)
print(tags.summary().pivot(index="layer", columns="label", values="n_tagged"))

# %%
# The spectrum of the most sentence-tagged unit, in the experiment and the
# control stream.
frame = tags.units_frame()
best = frame[frame.level == "sentence"].sort_values("z", ascending=False).iloc[0]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(tags.freqs[1:], tags.spectra[best.layer][1:, best.unit], label="sentences")
ax.plot(tags.freqs[1:], tags.control_spectra[best.layer][1:, best.unit], label="shuffled within sentences")
for rate in streams.rates.values():
    ax.axvline(rate, color="grey", lw=0.5)
ax.set(xlabel="frequency (Hz)", ylabel="amplitude (z units)", title=f"{best.layer}, MLP unit {best.unit}")
ax.legend()
fig.tight_layout()

# %%
# The masks are ordinary :class:`~brainalign.localize.UnitMask` objects: the
# ablation and brain-alignment functions of :mod:`brainalign.localize` take
# them as they take localizer masks.
masks = tags.masks()
print({label: mask.n_selected for label, mask in masks.items()})

# %%
# A simulated MEG recording
# -------------------------
# Twenty 8-s epochs of 20 channels: channels 0-4 follow sentences (1 Hz),
# channels 5-9 phrases (2 Hz), all follow words (4 Hz); each response has an
# amplitude of 0.3 noise standard deviations, and only its phase-locking over
# epochs reveals it.
rng = np.random.default_rng(0)
sfreq, seconds, n_epochs = 100.0, 8.0, 20
t = np.arange(int(sfreq * seconds)) / sfreq
data = rng.standard_normal((n_epochs, 20, t.size))
data[:, 0:5] += 0.3 * np.cos(2 * np.pi * 1.0 * t)
data[:, 5:10] += 0.3 * np.cos(2 * np.pi * 2.0 * t)
data += 0.3 * np.cos(2 * np.pi * 4.0 * t)
epochs = mne.EpochsArray(data * 1e-12, mne.create_info([f"MEG{i:02d}" for i in range(20)], sfreq, "mag"),
                         verbose=False)

table = tag_channels(epochs, {**streams.rates, "word": 4.0}, measure="itpc", n_permutations=1000)
print(table[table.significant].groupby("level").ch_name.apply(list))

freqs, itpc = itpc_spectrum(epochs)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(freqs, itpc[:5].mean(0), label="channels 0-4")
ax.plot(freqs, itpc[5:10].mean(0), label="channels 5-9")
ax.plot(freqs, itpc[10:].mean(0), label="channels 10-19")
ax.set(xlim=(0.2, 5), xlabel="frequency (Hz)", ylabel="ITPC")
ax.legend()
fig.tight_layout()

# %%
# Model and brain spectra compared
# --------------------------------
# Items are the frequencies both spectra share (up to the model's 2 Hz
# Nyquist); each layer's pattern is its units' amplitudes, the brain's its
# channels' ITPC. The Spearman correlation of the two dissimilarity matrices
# is tested by permuting the brain's items. This simulated recording was not
# made from the model, so no correspondence is expected (rho near 0); with
# recordings of the same paradigm (e.g. sEEG) this is the model-brain
# comparison of HFTP.
print(spectra_rsa(tags.spectra, tags.freqs, itpc, freqs, n_permutations=200 if FAST else 1000))
