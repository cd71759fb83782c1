"""
RSA, CKA and model comparison per target
========================================

Encoding scores ask "how well does a model *predict* each voxel?".  Three other
questions come up in model-brain papers, and :mod:`brainalign.similarity` and
:func:`brainalign.encoding.compare_models` answer them:

1. **Representational similarity (RSA)**: does the *geometry* of the brain's
   responses (which stimuli are far apart) match a model's?  RDMs, their
   comparison and noise ceilings come from rsatoolbox.
2. **CKA and shape distances**: how similar are two representations of the
   same stimuli, up to rotations and scaling?
3. **Model A vs model B, per target**: where does one model predict better than
   another, with a paired bootstrap and FDR?

We use the Haxby et al. (2001) category fMRI shipped with the project's
example data (``$BRAINALIGN_SHARED_DATA``) for RSA, and simulations with a
known answer for the rest.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from brainalign.core import Recording
from brainalign.datasets import shared_data_home
from brainalign.encoding import compare_models, composite_sites, cross_validate_models
from brainalign.similarity import (
    angular_shape_distance,
    cka,
    compute_rdm,
    evaluate_models,
    identification_scores,
    split_half_ceiling,
)

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
N_BOOT = 200 if FAST else 1000
SHARED = shared_data_home()

# %%
# RSA on the Haxby category data
# ------------------------------
# Eight visual categories in blocks, 12 runs, 530 ventral-temporal voxels of one
# slice.  The **crossnobis** distance between two categories is the
# cross-validated (across runs) squared distance of their mean patterns: noise
# does not inflate it, and 0 means "indistinguishable".  Without the data, a
# simulated participant with the same design takes their place.
haxby = SHARED / "haxby2001_subset"
if haxby.is_dir():
    import nibabel as nib
    import pandas as pd
    from nilearn.maskers import NiftiMasker

    attrs = pd.read_csv(haxby / "attributes_literal.txt", sep=" ", header=None, names=["label", "chunk"])
    labels = attrs["label"].shift(2).fillna("rest").to_numpy()  # ~5 s of haemodynamic delay
    runs = attrs["chunk"].to_numpy()
    masker = NiftiMasker(nib.load(haxby / "mask.nii.gz"), standardize="zscore_sample", detrend=True, runs=runs)
    X = masker.fit_transform(nib.load(haxby / "bold.nii.gz"))
    keep = labels != "rest"
    X, labels, runs = X[keep], labels[keep], runs[keep]
else:
    rng = np.random.default_rng(0)
    cats = ["bottle", "cat", "chair", "face", "house", "scissors", "scrambledpix", "shoe"]
    centres = rng.normal(size=(8, 530))
    labels = np.tile(np.repeat(cats, 9), 12)
    runs = np.repeat(np.arange(12), 72)
    X = 0.3 * centres[np.searchsorted(cats, labels)] + rng.normal(size=(labels.size, 530))

rdm = compute_rdm(X, labels, method="crossnobis", runs=runs)
conds = list(rdm.pattern_descriptors["conditions"])
fig, ax = plt.subplots(figsize=(4.5, 4))
im = ax.imshow(rdm.get_matrices()[0], cmap="viridis")
ax.set_xticks(range(len(conds)), conds, rotation=90)
ax.set_yticks(range(len(conds)), conds)
fig.colorbar(im, label="crossnobis distance")
ax.set_title("Category RDM from the fMRI")
fig.tight_layout()

# %%
# How reliable is this RDM?  With one participant there is no between-subject
# noise ceiling; the split-half reliability (odd vs even runs) tells how well
# *any* model could match it.  Then categorical models are compared with it
# (Kendall's tau-a, suited to models with many ties), with a bootstrap over
# categories.
from rsatoolbox.rdm import get_categorical_rdm  # noqa: E402

odd = np.isin(runs, np.unique(runs)[1::2])
halves = [compute_rdm(X[m], labels[m], method="crossnobis", runs=runs[m]) for m in (odd, ~odd)]
print("split-half:", {k: round(v, 3) for k, v in split_half_ceiling(*halves).items() if k != "method"})
models = {name: get_categorical_rdm(np.array([int(c in members) for c in conds]))
          for name, members in {"faces vs rest": {"face"}, "houses vs rest": {"house"},
                                "animate vs inanimate": {"face", "cat"}}.items()}
table = evaluate_models(models, rdm, method="tau-a", bootstrap="pattern", n_bootstraps=N_BOOT)
print(table[["model", "score", "ci_low", "ci_high"]].round(3).to_string(index=False))

# %%
# CKA and shape distances
# -----------------------
# Two "models" see the same 200 stimuli: B is a rotated and rescaled copy of
# A plus noise, C a random linear map of A.  CKA (debiased) and the angular
# Procrustes distance ignore rotations and scale, so A and B are close; an
# arbitrary linear map changes the geometry, and both notice.
rng = np.random.default_rng(1)
A = rng.normal(size=(200, 20))
Q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
B = 3.0 * A @ Q + 0.3 * rng.normal(size=(200, 20))
C = A @ (rng.normal(size=(20, 20)) * np.logspace(0, 1.5, 20))
for name, other in (("B (rotated)", B), ("C (linear map)", C)):
    print(f"A vs {name}: linear CKA {cka(A, other):.3f}, RBF CKA {cka(A, other, kernel='rbf'):.3f}, "
          f"angular distance {angular_shape_distance(A, other):.3f} rad")

# %%
# Which model predicts each target better?
# ----------------------------------------
# Three models of 40 targets: a "multimodal" one seeing an image x text
# interaction, and two unimodal ones.  Targets 0-9 follow the interaction,
# 10-19 the image only, 20-39 image + text additively.  Every model, and the
# *linear combination* of the two unimodal ones (banded ridge on their stacked
# features), is cross-validated on the same folds; the bootstrap resamples are
# drawn once and shared by all comparisons.  An "integration site" is a target
# where the multimodal model beats all three, each at FDR 5 %.
n = 600
img, txt = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
Y = np.empty((n, 40))
Y[:, :10] = (img * txt) @ rng.normal(size=(3, 10))
Y[:, 10:20] = img @ rng.normal(size=(3, 10))
Y[:, 20:] = img @ rng.normal(size=(3, 20)) + txt @ rng.normal(size=(3, 20))
rec = Recording(Y + 1.5 * rng.normal(size=Y.shape), sampling_period=0.1,
                target_names=[f"e{i:02d}" for i in range(40)])
results = cross_validate_models({"multimodal": np.hstack([img, txt, img * txt]), "image": img, "text": txt}, rec,
                                combinations={"image+text": ["image", "text"]}, backend="numpy")
comparison = compare_models(results, rec, n_bootstraps=N_BOOT, criteria={
    "integration": {"multimodal": "multimodal", "against": ["image", "text", "image+text"]}})
sites = composite_sites(comparison, "integration")
print("integration sites:", sites.loc[sites["site"], "target"].tolist())

fig, ax = plt.subplots(figsize=(7, 3))
against = comparison[comparison["model_b"] == "image+text"]
x = np.arange(len(against))
ax.errorbar(x, against["difference"], yerr=[against["difference"] - against["ci_low"],
                                            against["ci_high"] - against["difference"]], fmt="o", ms=3)
ax.scatter(x[sites["site"]], against["difference"][sites["site"].to_numpy()], color="C3", zorder=3,
           label="integration site")
ax.axhline(0, color="k", lw=0.8)
ax.set_xlabel("target")
ax.set_ylabel("r(multimodal) - r(image+text)")
ax.legend()
fig.tight_layout()

# %%
# Identification from cross-validated predictions
# -----------------------------------------------
# The held-out predictions of the multimodal model identify which sample they
# belong to: 2-vs-2 accuracy (chance 0.5) and top-10 retrieval among all 600
# (chance 10/600).
print(identification_scores(results["multimodal"], rec, ks=(10,), n_bootstraps=N_BOOT).round(3).to_string(index=False))
