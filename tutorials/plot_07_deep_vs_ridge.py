"""
When does a deep encoder beat ridge?
====================================

A linear map from model features to the brain (ridge) is the field's workhorse.
Trainable encoders — a transformer over time that reads several modalities at
once (TRIBE, d'Ascoli et al.), or learned queries attending to a vision model's
patch tokens (Adeli, Sun & Kriegeskorte) — win challenges.  They also have far
more parameters, and more ways to fool yourself.  This tutorial puts both on
simulated participants whose answer is known:

1. a **linear** truth: ridge is the right model; the transformer must not
   "find" a gain that is not there;
2. a **cross-modal interaction** with a slow response: no linear map of either
   modality predicts it, a transformer can learn it;
3. **content-routed** visual responses: each target reads whichever patch holds
   one kind of object; an attention readout follows it, a fixed spatial mask
   cannot — and its attention (routing) maps show where it looks.

Every choice (epoch, weights kept) is made on an inner validation block of the
training runs; scores are on a held-out run.
"""

# %%
# Set-up
# ------
# ``BRAINALIGN_FAST=1`` (used when the documentation is built) shrinks the data
# and the training so the tutorial runs in well under a minute on one CPU.
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

from brainalign.alignment import fir_delays
from brainalign.encoding import (
    AttentionReadoutEncoder,
    BandedRidgeEncoder,
    FactorizedReadoutEncoder,
    TemporalTransformerEncoder,
    correlation_score,
)
from brainalign.plotting import plot_routing_maps
from brainalign.simulation import simulate_interaction_truth, simulate_linear_truth, simulate_routed_tokens

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
torch.set_num_threads(1)
N_PER_RUN = 1000 if FAST else 1500
EPOCHS = 10 if FAST else 12
transformer = dict(width=32, depth=2, window=24, lr=3e-3, batch_size=8, modality_dropout=0.0, band_sizes=[4, 4],
                   max_epochs=EPOCHS)


def banded_ridge_r(sim, train, test):
    """Held-out r of banded ridge on an FIR design (delays of 0-3 samples), one band per modality and delay."""
    fir = fir_delays(sim.design(), delays=[0, 1, 2, 3]).X
    enc = BandedRidgeEncoder(n_iter=10, inner_cv=3, backend="numpy", band_sizes=[4] * 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the interaction truth pushes ridge to its largest penalty
        enc.fit(fir[train], sim.Y[train], runs=sim.runs[train], gap=4)
    return correlation_score(sim.Y[test], enc.predict(fir[test]))


# %%
# 1 and 2: a linear truth and an interaction truth
# ------------------------------------------------
# Two "modalities" (bands of 4 features each).  In the linear truth each target
# is an FIR filter of both; in the interaction truth it is the product of a
# projection of one with a projection of the other, smoothed over 12 samples —
# longer than ridge's 4-sample FIR window.  The last run is held out.
scores = {}
for name, sim in {"linear truth": simulate_linear_truth(n_runs=4, n_per_run=300 if FAST else 600, seed=1),
                  "interaction truth": simulate_interaction_truth(n_runs=4, n_per_run=N_PER_RUN)}.items():
    test = sim.runs == "run-4"
    deep = TemporalTransformerEncoder(**transformer).fit(sim.X[~test], sim.Y[~test], groups=sim.runs[~test], gap=4)
    scores[name] = (banded_ridge_r(sim, ~test, test), correlation_score(sim.Y[test], deep.predict(sim.X[test])))
    print(f"{name:18s} ridge {scores[name][0].mean():+.3f}   transformer {scores[name][1].mean():+.3f}   "
          f"(best epoch {deep.fit_info_['best_epoch']}, chosen on the inner validation block)")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), sharey=True)
for ax, (name, (r_ridge, r_deep)) in zip(axes, scores.items()):
    ax.scatter(r_ridge, r_deep)
    ax.axline((0, 0), slope=1, color="k", lw=0.8)
    ax.set_title(name)
    ax.set_xlabel("banded ridge r (held-out run)")
axes[0].set_ylabel("transformer r (held-out run)")
fig.tight_layout()

# %%
# On the linear truth the points sit on or below the diagonal: ridge is the
# right model and the transformer, with far more parameters, does not beat it.
# On the interaction truth ridge is at zero — the interaction has no linear
# part — while the transformer predicts it.  A deep encoder earns its keep
# where responses combine modalities nonlinearly or integrate over long
# histories; elsewhere ridge is as good, cheaper and easier to interpret.
#
# 3: content-routed visual responses
# ----------------------------------
# Images are 4 x 4 grids of patch tokens (16 channels).  Four kinds of object
# sit at random patches; target ``j`` responds to the content of the patch that
# holds object ``j mod 4``, wherever it is.
sim = simulate_routed_tokens(n_images=1000 if FAST else 1500)
n_train = int(0.8 * len(sim.X))
train, test = np.arange(n_train), np.arange(n_train, len(sim.X))
epochs = 25 if FAST else 30
attention = AttentionReadoutEncoder(token_grid=sim.grid, max_epochs=epochs).fit(sim.X[train], sim.Y[train])
factorized = FactorizedReadoutEncoder(token_grid=sim.grid, max_epochs=epochs).fit(sim.X[train], sim.Y[train])
for name, enc in (("attention", attention), ("factorized", factorized)):
    print(f"{name:10s} readout: r = {correlation_score(sim.Y[test], enc.predict(sim.X[test])).mean():+.3f}")

# %%
# A query's attention over the patches is its routing map.  Averaged over
# images it is flat here (objects move); per image it should peak on the patch
# holding the target's object:
maps = attention.routing_maps(sim.X[test])
hits = maps.reshape(len(test), sim.Y.shape[1], -1).argmax(-1) == sim.planted[test]
print(f"routing map peaks on the planted patch for {hits.mean():.0%} of image x target pairs (chance 6%)")
fig = plot_routing_maps(maps[0][:4], [f"target {j} (object {j % 4})" for j in range(4)])

# %%
# With real images, the tokens come from a frozen vision model:
# ``extract_image_features(..., pooling="tokens")`` keeps every patch token and
# records the grid in ``metadata["token_grids"]``, and queries can be shared by
# the targets of one ROI (``query_groups``) to get one routing map per ROI.
plt.show()
