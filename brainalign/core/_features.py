"""Layerwise features of a model, one row per timeline event."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._io import load_arrays, load_json, save_arrays, save_json
from ._timeline import Timeline
from ._validation import BrainalignInputError, as_2d_float, check_finite, check_same_length


@dataclass(eq=False)
class FeatureSet:
    """Activations of a model's layers aligned to the events of a timeline.

    Parameters
    ----------
    layers : mapping of str to ndarray, shape (n_events, n_dims)
        One array per layer, in model order (e.g. ``"embeddings"``,
        ``"layer.0"``, ...).  Dimensions may differ between layers.
    timeline : Timeline
        The events the rows belong to (their onsets are the feature times).
    metadata : dict
        Provenance: ``model_id``, ``revision``, ``pooling``,
        ``context_tokens`` and anything else that produced the features.

    Examples
    --------
    >>> import numpy as np
    >>> tl = Timeline(["a", "b"], [0.0, 0.5])
    >>> fs = FeatureSet({"layer.0": np.zeros((2, 3))}, tl, {"model_id": "toy"})
    >>> fs.layer_names, fs["layer.0"].shape
    (['layer.0'], (2, 3))
    """

    layers: Mapping[str, np.ndarray]
    timeline: Timeline
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.timeline, Timeline):
            raise BrainalignInputError(
                f"timeline must be a brainalign Timeline, got {type(self.timeline).__name__}."
            )
        if not isinstance(self.layers, Mapping):
            raise BrainalignInputError(
                f"FeatureSet layers must be a mapping of layer name to (n_events, n_dims) array, got "
                f"{type(self.layers).__name__}."
            )
        if len(self.layers) == 0:
            raise BrainalignInputError("A FeatureSet needs at least one layer.")
        clean: dict[str, np.ndarray] = {}
        for name, arr in self.layers.items():
            arr = as_2d_float(arr, f"layer {name!r}")
            check_same_length(f"layer {name!r}", arr.shape[0], "timeline events", self.timeline.n_events)
            if arr.shape[1] == 0:
                raise BrainalignInputError(f"layer {name!r} has 0 feature dimensions.")
            check_finite(arr, f"layer {name!r}")
            clean[str(name)] = arr
        self.layers = clean
        self.metadata = dict(self.metadata)

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    @property
    def n_events(self) -> int:
        return self.timeline.n_events

    @property
    def times(self) -> np.ndarray:
        """Event onsets in seconds."""
        return self.timeline.onsets

    def __getitem__(self, layer: str) -> np.ndarray:
        if layer not in self.layers:
            raise KeyError(f"Unknown layer {layer!r}; valid layers are {self.layer_names}.")
        return self.layers[layer]

    def select_layers(self, names) -> "FeatureSet":
        """A FeatureSet with only ``names`` (raises listing valid names on a typo)."""
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in self.layers]
        if unknown:
            raise BrainalignInputError(
                f"Unknown layer name(s) {unknown}; valid layers are {self.layer_names}."
            )
        return FeatureSet({n: self.layers[n] for n in names}, self.timeline, self.metadata)

    def select_events(self, index) -> "FeatureSet":
        index = index if isinstance(index, slice) else np.asarray(index)
        return FeatureSet(
            {n: a[index] for n, a in self.layers.items()}, self.timeline.select(index), self.metadata
        )

    # --------------------------------------------------------------- storage
    def save(self, directory: str | Path) -> Path:
        """Write ``features.npz`` (one array per layer + timeline) and ``features.json``."""
        directory = Path(directory)
        arrays = {f"layer/{n}": a for n, a in self.layers.items()}
        arrays.update(
            {
                "timeline/tokens": self.timeline.tokens,
                "timeline/onsets": self.timeline.onsets,
                "timeline/offsets": self.timeline.offsets,
                "timeline/runs": self.timeline.runs,
            }
        )
        save_arrays(directory / "features.npz", arrays)
        save_json(directory / "features.json", {"layer_names": self.layer_names, "metadata": self.metadata})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "FeatureSet":
        directory = Path(directory)
        side = load_json(directory / "features.json")
        arrays = load_arrays(directory / "features.npz")
        timeline = Timeline(
            arrays["timeline/tokens"],
            arrays["timeline/onsets"],
            arrays["timeline/offsets"],
            arrays["timeline/runs"],
        )
        layers = {n: arrays[f"layer/{n}"] for n in side["layer_names"]}
        return cls(layers, timeline, side["metadata"])

    def __repr__(self) -> str:
        dims = {n: a.shape[1] for n, a in list(self.layers.items())[:3]}
        more = "" if len(self.layers) <= 3 else f", ... ({len(self.layers)} layers)"
        return (
            f"FeatureSet(model={self.metadata.get('model_id', '?')!r}, n_events={self.n_events}, "
            f"dims={dims}{more})"
        )
