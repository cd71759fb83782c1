"""
Map model layers to cortex
==========================

Which depth of a language model best predicts each part of the brain? This
tutorial answers the question on a *simulated* participant whose answer we
know, so every step can be checked:

1. two short stories get a natural speech timing;
2. the real all-MiniLM-L6-v2 turns every word into one vector per layer;
3. a participant is simulated on the voxels of the MNI152 brain: every voxel
   follows one known layer (early layers at the back of the brain, deeper
   layers towards the front) through the haemodynamic response, plus noise;
4. every layer is fitted with ridge regression, cross-validated across stories;
5. the best layer of each voxel is drawn on a glass brain and on the cortical
   surface, and compared with the planted one.

With real data, step 3 is replaced by a loader (see :doc:`/data_loading`).
"""

# %%
# Set-up
# ------
# ``BRAINALIGN_FAST=1`` (used when the documentation is built) shrinks the
# brain grid and the model's context so the tutorial runs in about a minute.
import os
from importlib import resources

import matplotlib.pyplot as plt
import numpy as np
from nilearn import datasets, image

import brainalign as ba
from brainalign.alignment import hrf_design
from brainalign.encoding import sweep_layers
from brainalign.features import bundled_model_dir, extract_text_features
from brainalign.plotting import (
    best_layer,
    plot_best_layer_map,
    plot_layer_profile,
    plot_score_map,
    plot_surface_map,
)
from brainalign.simulation import simulate_fmri
from brainalign.stimuli import synthetic_speech_timeline

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
VOXEL_MM = 10.0 if FAST else 6.0
CONTEXT_TOKENS = 64 if FAST else 256

# %%
# The stimulus: two stories, one run each
# ---------------------------------------
# The timeline holds every word with its onset and offset in seconds on the
# clock of its run (the scanner's clock). Here the timing is synthetic -- a
# natural reading pace with pauses at punctuation; with real data it comes from
# a forced aligner (e.g. a Praat TextGrid, :func:`brainalign.stimuli.read_textgrid`).
stories = []
for i, name in enumerate(["lighthouse", "orchard"]):
    text = resources.files("brainalign").joinpath("data", f"story_{name}.txt").read_text(encoding="utf-8")
    stories.append(synthetic_speech_timeline(text, run=name, start=2.0, seed=i))
timeline = ba.Timeline.concatenate(stories)
print(timeline.n_events, "words in runs", timeline.run_ids)
print(timeline.to_frame().head())

# %%
# Layerwise features
# ------------------
# Each word's vector is the hidden state of its last token, computed with up to
# ``context_tokens`` tokens of preceding context from the same story. The model
# is the real all-MiniLM-L6-v2, shipped as a Python package, so nothing is
# downloaded.
features = extract_text_features(timeline, bundled_model_dir(), context_tokens=CONTEXT_TOKENS)
print(features)

# %%
# With a few hundred scans, a 384-dimensional layer cannot be told apart from
# its neighbours (adjacent layers of a residual stream are strongly
# correlated). We keep each layer's first 8 principal components, computed on
# the stimulus features alone -- no brain data is involved, so nothing leaks
# from test data into training.
def principal_components(features, n_components=8):
    reduced = {}
    for name, X in features.layers.items():
        Xz = (X - X.mean(0)) / (X.std(0) + 1e-6)
        _, _, vt = np.linalg.svd(Xz, full_matrices=False)
        reduced[name] = Xz @ vt[:n_components].T
    return ba.FeatureSet(reduced, features.timeline, {**features.metadata, "reduction": f"PCA({n_components})"})


reduced = principal_components(features)

# %%
# A simulated participant in MNI space
# ------------------------------------
# One target per voxel of the MNI152 brain mask (resampled to a coarse grid).
# ``layer_of_target="gradient"`` plants the layers in model order from
# posterior to anterior voxels; a tenth of the voxels hold noise only.
mask = image.resample_img(
    datasets.load_mni152_brain_mask(resolution=2), target_affine=np.diag([VOXEL_MM] * 3),
    interpolation="nearest", force_resample=True, copy_header=True,
)
recording, truth = simulate_fmri(
    reduced, mask_img=mask, layer_of_target="gradient", tr=1.5, snr=1.0, noise_fraction=0.1, seed=0,
)
print(recording)

# %%
# Design matrices and cross-validated ridge
# -----------------------------------------
# :func:`~brainalign.alignment.hrf_design` convolves each layer's word vectors
# with the haemodynamic response and samples them at the TR, run by run.
# :func:`~brainalign.encoding.sweep_layers` fits every layer with ridge
# regression: with two stories, the folds are leave-one-story-out (train on one
# story, score on the other), and the penalty of each voxel is chosen by an
# inner cross-validation on the training story only.
designs = hrf_design(reduced, recording)
sweep = sweep_layers(designs, recording, model="all-MiniLM-L6-v2")
scores = sweep.score_matrix("r")  # (n_layers, n_voxels), fold-averaged
print(sweep)

# %%
# Did we recover the planted layers?
# ----------------------------------
# Among the voxels with signal, how often is the best-scoring layer the one we
# planted, or a neighbour of it?
names = sweep.layer_names
recovered, _ = best_layer(scores, names)
signal = ~np.asarray(truth.noise_targets)
planted = np.array([names.index(layer) for layer in np.asarray(truth.layer_of_target, dtype=object)[signal]])
exact = np.mean(recovered[signal] == planted)
within_one = np.mean(np.abs(recovered[signal] - planted) <= 1)
print(f"best layer = planted layer in {exact:.0%} of signal voxels, within one layer in {within_one:.0%}")

# %%
# How well is each voxel predicted?
# ---------------------------------
# The best layer's score per voxel on a glass brain. Noise voxels stay near 0.
display = plot_score_map(scores.max(axis=0), recording, threshold=0.1, title="best-layer r")

# %%
# The layer-to-cortex map
# -----------------------
# One colour per layer, from early (dark) to late (light). Voxels whose best
# score is below ``threshold`` are left blank. The map is categorical, so it is
# drawn on axial slices: a glass-brain projection would show the highest layer
# along each line of sight, not the layer of any voxel.
display = plot_best_layer_map(scores, recording, names, threshold=0.1, title="recovered best layer")

# %%
# The planted map, drawn the same way, for comparison:
planted_scores = np.zeros_like(scores)
for j, layer in enumerate(truth.layer_of_target):
    if layer is not None:
        planted_scores[names.index(layer), j] = 1.0
display = plot_best_layer_map(planted_scores, recording, names, threshold=0.5, title="planted layer")

# %%
# The same on the cortical surface
# --------------------------------
# Each layer's score map is projected onto the fsaverage5 surface (bundled with
# nilearn) and the best layer is taken per vertex.
fig = plot_best_layer_map(scores, recording, names, kind="surface", threshold=0.1)

# %%
# A single layer's score on the surface:
fig = plot_surface_map(scores[names.index("layer.3")], recording, threshold=0.1, title="layer.3 r")

# %%
# Layer profiles
# --------------
# The mean score per layer in the back, middle and front thirds of the brain
# (by the y coordinate of each voxel): the peak moves to deeper layers from
# posterior to anterior cortex, as planted. Error bars are SEM across voxels.
y_mm = image.coord_transform(*np.argwhere(np.asarray(mask.dataobj) > 0).T, mask.affine)[1]
region = np.select([y_mm < np.quantile(y_mm, 1 / 3), y_mm < np.quantile(y_mm, 2 / 3)], ["posterior", "middle"], "anterior")
import pandas as pd  # noqa: E402

table = pd.DataFrame(
    {"layer": np.repeat(names, scores.shape[1]), "target": np.tile(np.arange(scores.shape[1]), len(names)),
     "region": np.tile(region, len(names)), "r": scores.ravel()}
)
fig = plot_layer_profile(table[np.tile(signal, len(names))], group="region", across="target")

# %%
# Save the results and write a report
# -----------------------------------
# A results folder holds the tidy scores (``scores.tsv``), every layer's
# result, the configuration and the package versions; maps and tables can be
# added next to them. ``brainalign report FOLDER`` (or
# :func:`~brainalign.report.write_report`) turns it into one self-contained
# HTML page to share.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from brainalign.report import write_report  # noqa: E402

folder = sweep.save(Path(tempfile.mkdtemp()) / "layers_to_cortex")
(folder / "maps").mkdir(exist_ok=True)
recording.to_image(np.where(scores.max(axis=0) > 0.1, recovered + 1, 0)).to_filename(folder / "maps" / "best_layer.nii.gz")
page = write_report(folder)
print(sorted(p.name for p in folder.iterdir()), "->", page.name, f"({page.stat().st_size / 1e6:.1f} MB)")
plt.show()
