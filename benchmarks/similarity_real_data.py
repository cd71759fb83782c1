"""Real data through brainalign.similarity: Haxby 2001 category RSA and MiniLM layer RDMs of Pereira sentences.

1. Haxby (one ventral-temporal slice, 530 voxels, 12 runs, 8 categories):
   the category RDM from the fMRI itself (cross-validated Mahalanobis /
   "crossnobis" distances across runs, Euclidean noise), its split-half
   reliability (odd vs even runs, Spearman-Brown corrected = the ceiling), and
   how categorical models (animate vs inanimate, faces vs rest, scrambled vs
   objects) compare with it (Kendall tau-a, bootstrap over categories).
2. Pereira 2018 sentences (384 sentences, no brain data): the bundled
   all-MiniLM-L6-v2's sentence RDMs (mean over the words of each sentence)
   at every layer, their layer-to-layer RDM similarity (Spearman) and linear
   CKA between adjacent layers with a bootstrap interval over passages.

Run:  python benchmarks/similarity_real_data.py     (BRAINALIGN_FAST=1: 96 sentences)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(os.environ.get("BRAINALIGN_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
FAST = os.environ.get("BRAINALIGN_FAST", "0") == "1"


def haxby() -> None:
    import nibabel as nib
    from nilearn.maskers import NiftiMasker
    from rsatoolbox.rdm import get_categorical_rdm

    from brainalign.similarity import compute_rdm, compare_rdms, evaluate_models, split_half_ceiling

    folder = SHARED / "haxby2001_subset"
    attrs = pd.read_csv(folder / "attributes_literal.txt", sep=" ", header=None, names=["label", "chunk"])
    # 2 volumes (5 s) of haemodynamic delay between a block's labels and its response
    labels = attrs["label"].shift(2).fillna("rest").to_numpy()
    runs = attrs["chunk"].to_numpy()
    masker = NiftiMasker(nib.load(folder / "mask.nii.gz"), standardize="zscore_sample", detrend=True,
                         runs=runs)
    X = masker.fit_transform(nib.load(folder / "bold.nii.gz"))
    keep = labels != "rest"
    X, labels, runs = X[keep], labels[keep], runs[keep]
    cats = sorted(set(labels))
    print(f"Haxby: {X.shape[0]} volumes x {X.shape[1]} voxels, {len(cats)} categories, {len(set(runs))} runs")
    t0 = time.perf_counter()
    full = compute_rdm(X, labels, method="crossnobis", runs=runs, name="haxby")
    odd = np.isin(runs, np.unique(runs)[1::2])
    halves = [compute_rdm(X[m], labels[m], method="crossnobis", runs=runs[m]) for m in (odd, ~odd)]
    for method in ("spearman", "tau-a"):
        half = split_half_ceiling(*halves, method=method)
        print(f"  split-half reliability ({method}, odd vs even runs): {half['reliability']:.3f}; "
              f"Spearman-Brown ceiling {half['ceiling']:.3f}")
    conds = list(full.pattern_descriptors["conditions"])
    print("  crossnobis category RDM (x1000):")
    print(pd.DataFrame(full.get_matrices()[0] * 1000, index=conds, columns=conds).round(1).to_string())
    def model(members):  # two-category model RDM: 0 within, 1 between
        return get_categorical_rdm(np.array([int(c in members) for c in conds]))

    models = {
        "animate vs inanimate": model({"face", "cat"}),
        "faces vs rest": model({"face"}),
        "houses vs rest": model({"house"}),
        "scrambled vs objects": model({"scrambledpix"}),
    }
    table = evaluate_models(models, full, method="tau-a", bootstrap="pattern", n_bootstraps=1000)
    print("  categorical models vs the fMRI category RDM (Kendall tau-a, 95% bootstrap over categories):")
    print(table[["model", "score", "ci_low", "ci_high", "p_zero"]].round(3).to_string(index=False))
    print(f"  the two halves' RDMs vs each other (tau-a): {compare_rdms(*halves, method='tau-a')[0, 0]:.3f}")
    print(f"  Haxby done in {time.perf_counter() - t0:.1f} s")


def pereira() -> None:
    from brainalign.core import Timeline
    from brainalign.features import bundled_model_dir, extract_text_features
    from brainalign.similarity import cka_with_ci, compare_rdms, layer_rdms

    sentences = (SHARED / "pereira2018_sentences" / "stimuli_384sentences.txt").read_text().splitlines()
    sentences = [s.strip() for s in sentences if s.strip()]
    if FAST:
        sentences = sentences[:96]
    words, runs = [], []
    for i, sentence in enumerate(sentences):
        for w in sentence.split():
            words.append(w)
            runs.append(f"s{i:03d}")  # every sentence its own run: no context from the previous sentence
    onsets = np.concatenate([np.arange(runs.count(r)) * 0.3 for r in dict.fromkeys(runs)])
    t0 = time.perf_counter()
    features = extract_text_features(Timeline(words, onsets, None, runs), str(bundled_model_dir()), device="cpu")
    runs = np.asarray(runs)
    order = list(dict.fromkeys(runs))
    sentence_vectors = {layer: np.stack([features[layer][runs == r].mean(0) for r in order])
                        for layer in features.layer_names}
    print(f"Pereira: {len(sentences)} sentences, {len(words)} words, layers {features.layer_names} "
          f"({time.perf_counter() - t0:.1f} s to extract)")
    rdms = layer_rdms(sentence_vectors, method="correlation")
    sim = compare_rdms(rdms, rdms, method="spearman")
    names = [n.replace("layer.", "L") for n in features.layer_names]
    print("  layer-to-layer RDM similarity (Spearman):")
    print(pd.DataFrame(sim, index=names, columns=names).round(3).to_string())
    # passages of 4 sentences are resampled whole (Pereira's sentences come in topic passages, in order)
    passages = np.arange(len(sentences)) // 4
    print("  linear CKA (debiased) between adjacent layers, 95% bootstrap over passages of 4 sentences:")
    layers = features.layer_names
    for a, b in zip(layers[:-1], layers[1:]):
        out = cka_with_ci(sentence_vectors[a], sentence_vectors[b], groups=passages, n_bootstraps=200)
        print(f"    {a:>10} -> {b:<8} {out['score']:.3f} [{out['ci_low']:.3f}, {out['ci_high']:.3f}]")


def main() -> int:
    if not SHARED.is_dir():
        print(f"Shared data folder {SHARED} is absent; nothing to run.")
        return 0
    haxby()
    pereira()
    return 0


if __name__ == "__main__":
    sys.exit(main())
