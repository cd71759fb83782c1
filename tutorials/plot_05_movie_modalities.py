"""
Movie watching: which modality drives which cortex
==================================================

The strongest whole-brain encoding models are fitted on movies: the video
frames, the soundtrack and the transcript each go through their own model, all
three are put on the fMRI grid and fitted together. This tutorial does it end
to end on a real container file:

1. write a short movie (.mp4: H.264 frames + AAC soundtrack) and its transcript;
2. decode it with PyAV and extract features of the frames (an image model),
   of the soundtrack (a speech model) and of the transcript words (a language
   model);
3. simulate a participant watching it, each voxel driven by one layer of one
   modality;
4. fit the three modalities together with banded ridge (one penalty per
   modality and layer) and split each voxel's held-out variance into the part
   only one modality explains and the part they share.

The image and speech models are small and randomly initialised (no download);
the language model is the real all-MiniLM-L6-v2, shipped as a Python package.
"""

# %%
# Set-up
# ------
# ``BRAINALIGN_FAST=1`` (used when the documentation is built) shortens the
# movie and coarsens the brain grid so the tutorial runs in about a minute.
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from nilearn import datasets, image
from transformers import (
    ViTConfig,
    ViTImageProcessor,
    ViTModel,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Model,
)

import brainalign as ba
from brainalign.alignment import multimodal_designs
from brainalign.encoding import fit_multimodal
from brainalign.features import bundled_model_dir, extract_movie_features, principal_components, probe_video
from brainalign.plotting import plot_best_layer_map, plot_layer_modality_map, plot_variance_partition
from brainalign.simulation import simulate_multimodal_fmri
from brainalign.stimuli import write_synthetic_movie

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
RUN_SECONDS = 150.0 if FAST else 300.0
VOXEL_MM = 12.0 if FAST else 6.0
workdir = Path(tempfile.mkdtemp(prefix="brainalign-movie-"))

# %%
# The movie: two runs, each a real .mp4 file
# ------------------------------------------
# :func:`~brainalign.stimuli.write_synthetic_movie` draws a slowly changing
# coloured scene with a moving bar, and a speech-like soundtrack (tone bursts
# grouped into words) whose words it returns as the transcript. Any movie file
# FFmpeg reads works the same way.
runs = ["run-1", "run-2"]
movies, transcripts = {}, []
for i, run in enumerate(runs):
    movies[run] = workdir / f"movie_{run}.mp4"
    words = write_synthetic_movie(movies[run], duration=RUN_SECONDS, fps=10, size=(64, 64), seed=i)
    transcripts.append(ba.Timeline(words.tokens, words.onsets, words.offsets, runs=run))
transcript = ba.Timeline.concatenate(transcripts)
print(probe_video(movies["run-1"]))
print(transcript.n_events, "transcript words")

# %%
# Three models, three feature sets
# --------------------------------
# Frames are decoded chunk by chunk after a seek (a 2-hour film is never held
# in memory) and sampled every 0.5 s, at the timestamps the container reports.
# The soundtrack is decoded and resampled to the speech model's 16 kHz by
# FFmpeg. The transcript words go through the language model with their
# preceding context. Each extraction is cached and resumable with
# ``cache_dir=``. :func:`~brainalign.features.extract_movie_features` runs all
# three, one run per movie file.
torch.manual_seed(0)
vit = ViTModel(ViTConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=2, intermediate_size=96,
                         image_size=32, patch_size=8), add_pooling_layer=False)
vit_processor = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
wav2vec = Wav2Vec2Model(Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, conv_dim=(16, 16, 16), conv_stride=(5, 4, 4),
                                       conv_kernel=(10, 4, 4), num_conv_pos_embeddings=8,
                                       num_conv_pos_embedding_groups=2))
speech_processor = Wav2Vec2FeatureExtractor(sampling_rate=16000)

raw = extract_movie_features(
    movies, video_model=vit, processor=vit_processor, sample_fps=2, video_layers=["layer.0", "layer.1"],
    audio_model=wav2vec, feature_extractor=speech_processor, audio_layers=["layer.0", "layer.1"],
    audio_frame_rate=10.0, text_model=bundled_model_dir(), transcript=transcript, text_layers=["layer.1", "layer.5"],
    context_tokens=32, device="cpu",
)
for modality, fs in raw.items():
    print(modality, fs)

# %%
# Layers of one model are strongly correlated; with a few hundred scans we keep
# each layer's first 6 principal components (fitted on the stimulus only).
features = {modality: principal_components(fs, 6) for modality, fs in raw.items()}

# %%
# A simulated participant in MNI space
# ------------------------------------
# One target per voxel of a coarse MNI152 brain mask. ``band_of_target="gradient"``
# plants the six bands (video layers, then audio, then text) from posterior to
# anterior voxels: "visual" cortex at the back, "language" cortex at the front.
mask = image.resample_img(
    datasets.load_mni152_brain_mask(resolution=2), target_affine=np.diag([VOXEL_MM] * 3),
    interpolation="nearest", force_resample=True, copy_header=True,
)
recording, truth = simulate_multimodal_fmri(features, mask_img=mask, band_of_target="gradient", tr=1.5, snr=1.0,
                                            seed=0)
planted = np.array(truth.params["modality_of_target"], dtype=object)
print(recording)

# %%
# Fitting the modalities together
# -------------------------------
# :func:`~brainalign.alignment.multimodal_designs` brings every layer of every
# modality to the scan grid (HRF convolution, run by run): one band each.
# :func:`~brainalign.encoding.fit_multimodal` fits all bands together with
# banded ridge (leave-one-run-out, penalties per band tuned on inner folds of
# the training run), then refits without each modality on the same folds:
# ``unique[m] = R²(all) - R²(all but m)`` and ``shared = R²(all) - Σ unique``.
bands = multimodal_designs(features, recording)
print(list(bands))
result = fit_multimodal(bands, recording, n_iter=10 if FAST else 20)
recovered = result.best_modality()
print(f"modality recovered for {np.mean(recovered == planted):.0%} of voxels")
print(result.summary().round(3))

# %%
# Variance partitioning
# ---------------------
# For voxels planted in each modality, the unique variance of that modality
# carries almost all of the joint R², and the other modalities add nothing.
# The shared part is close to zero here because the three models' features of
# this synthetic movie are nearly independent on the scan grid; in a real film
# the soundtrack and the transcript both follow the speech, and the variance
# they explain together shows up as shared.
plot_variance_partition(result, groups=planted, title="held-out R² by planted modality")
plt.show()

# %%
# A layer x modality map
# ----------------------
# Each voxel's best band (largest share of the joint model's held-out R²),
# counted over voxels, and on cortex.
plot_layer_modality_map(result)
plt.show()

plot_best_layer_map(result.band_scores(), recording, result.bands, threshold=0.0,
                    title="best band (modality:layer) per voxel")
plt.show()
