"""Category codings of the Haxby subset's blocks, saved as a FeatureSet: the "model" of haxby_rsa_study.toml."""

from pathlib import Path

import numpy as np

from brainalign.core import FeatureSet
from brainalign.datasets.haxby2001_subset import load_haxby_subset

timeline = load_haxby_subset(runs=range(1, 13)).timeline
tokens = [str(t) for t in timeline.tokens]
categories = sorted(set(tokens))
layers = {
    "category": np.array([[float(t == c) for c in categories] for t in tokens]),
    "animacy": np.array([[float(t in ("face", "cat")), float(t == "scrambledpix")] for t in tokens]),
    "random": np.random.default_rng(0).normal(size=(len(tokens), 8)),
}
out = FeatureSet(layers, timeline, {"model_id": "haxby-category-codings"}).save(Path(__file__).resolve().parents[1] / "results" / "haxby-codings")
print(f"{len(tokens)} blocks of {categories} -> {out}")
