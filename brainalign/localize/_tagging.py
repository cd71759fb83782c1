"""Frequency tagging of model units (the model half of HFTP, An et al. 2025; Ding et al. 2016).

An isochronous stream (:func:`brainalign.stimuli.isochronous_streams`)
presents four-word sentences one word per step, so sentences recur at 1/4 and
phrases at 1/2 of the word rate.  Every unit's activation per word is a time
series sampled at the word rate; a unit *tags* a level when its amplitude at
that level's rate

1. exceeds the ``percentile`` (95th) of a permutation null made by shuffling
   the word order of the stream (all periodicity destroyed), and
2. exceeds its amplitude for the within-sentence-shuffled control stream by
   ``z > z_threshold`` (2), the z of the experiment - control difference taken
   over all units of all layers of that unit type.

Rule 2 removes units that follow *which words* come at a position (the word
classes of ``[Adj N][V N]`` sit at fixed positions) rather than the structure:
the control keeps the words and the sentence boundaries but not the order.

The null is vectorised: the Fourier coefficient at a tagged bin is a linear
function of the time series, so for ``P`` permuted orders it is one matrix
product of a ``(2 P, n_words)`` matrix of cosines and sines at the permuted
positions with the ``(n_words, n_units)`` activations -- thousands of units x
1000 permutations in well under a second per layer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import Field

from .._logging import progress_disabled
from ..core import BrainalignInputError, Options, Timeline
from ._mask import UnitMask
from ._units import model_fingerprint, model_name

logger = logging.getLogger("brainalign.localize")

__all__ = [
    "FrequencyTags",
    "TaggingOptions",
    "permutation_null",
    "spectra_rsa",
    "stream_unit_series",
    "tag_frequencies",
    "tag_units",
    "unit_spectra",
]

_FEATURE_PREFIX = {"residual": "layer.", "mlp": "mlp."}


class TaggingOptions(Options):
    """Options of :func:`tag_units` (``brainalign tag``'s flags; torch-free so that ``--help`` stays fast)."""

    unit_types: list[Literal["mlp", "residual"]] = Field(
        ["mlp", "residual"], min_length=1, description="MLP units (down-projection inputs) and/or block outputs")
    n_permutations: int = Field(1000, ge=1, description="word-order permutations of the null")
    z_threshold: float = Field(2.0, description="experiment - control amplitude z (over all units) a unit must exceed")
    percentile: float = Field(95.0, gt=0, lt=100, description="percentile of the permutation null to exceed")
    seed: int = Field(0, description="seed of the permutations")
    context_tokens: int = Field(512, ge=0, description="preceding tokens each word sees")
    batch_size: int = Field(8, ge=1, description="windows per forward pass")


# ------------------------------------------------------------------ series
def stream_unit_series(
    model,
    timeline: Timeline,
    *,
    tokenizer=None,
    unit_types: Sequence[str] = ("mlp", "residual"),
    context_tokens: int = 512,
    batch_size: int = 8,
    **feature_kwargs: Any,
) -> dict[str, dict[str, np.ndarray]]:
    """Activation of every unit at every word of every stream, all layers.

    Parameters
    ----------
    model : transformers model, :class:`brainalign.features.TextModel` or str
        Any causal or masked LM :func:`brainalign.features.extract_text_features`
        reads (a model object needs ``tokenizer=``).
    timeline : Timeline
        One run per stream (e.g. ``isochronous_streams().experiment``); every
        run must have the same number of words.
    unit_types : sequence of {"mlp", "residual"}
        ``"mlp"``: the input of each MLP down-projection (``act(gate) * up`` for
        gated MLPs, the post-activation hidden layer for GPT-2/BERT);
        ``"residual"``: each block's output.
    context_tokens, batch_size, **feature_kwargs
        Passed to :func:`~brainalign.features.extract_text_features` (each word
        sees the preceding words of its own stream; last token of a word).

    Returns
    -------
    dict of unit type to dict of ``"layer.i"`` to ndarray, shape (n_streams, n_words, n_units)

    Examples
    --------
    >>> series = stream_unit_series(model, streams.experiment, tokenizer=tok)  # doctest: +SKIP
    >>> series["mlp"]["layer.0"].shape  # doctest: +SKIP
    (4, 272, 3072)
    """
    from ..features import TextModel, extract_text_features

    if not isinstance(timeline, Timeline):
        raise BrainalignInputError(f"timeline must be a brainalign Timeline (one run per stream), got {type(timeline).__name__}.")
    unit_types = tuple(unit_types)
    bad = [u for u in unit_types if u not in _FEATURE_PREFIX]
    if bad or not unit_types:
        raise BrainalignInputError(f"unit_types must be a non-empty subset of {tuple(_FEATURE_PREFIX)}, got {list(unit_types)}.")
    runs = timeline.run_ids
    lengths = {run: int(np.sum(timeline.runs == run)) for run in runs}
    if len(set(lengths.values())) != 1:
        raise BrainalignInputError(
            f"Every stream needs the same number of words for one spectrum grid, got {lengths}; build them with "
            "isochronous_streams(sentences_per_stream=...)."
        )
    if not isinstance(model, (str, TextModel)) and hasattr(model, "forward"):
        if tokenizer is None:
            raise BrainalignInputError("Pass tokenizer= with a transformers model object.")
        model = TextModel(model, tokenizer, model_name(model))
    n_blocks = model.n_blocks if isinstance(model, TextModel) else None
    layers = list(range(n_blocks)) if n_blocks is not None else None
    kwargs = dict(feature_kwargs)
    if "mlp" in unit_types:
        kwargs["units"] = "mlp"
    features = extract_text_features(timeline, model, layers=layers, context_tokens=context_tokens,
                                     batch_size=batch_size, **kwargs)
    n_streams, n_words = len(runs), next(iter(lengths.values()))
    out: dict[str, dict[str, np.ndarray]] = {}
    for unit_type in unit_types:
        prefix = _FEATURE_PREFIX[unit_type]
        names = sorted((n for n in features.layer_names if n.startswith(prefix) and n[len(prefix):].isdigit()),
                       key=lambda n: int(n[len(prefix):]))
        out[unit_type] = {
            f"layer.{name[len(prefix):]}": np.asarray(features[name], dtype=np.float32).reshape(n_streams, n_words, -1)
            for name in names
        }
    return out


# ---------------------------------------------------------------- spectra
def _as_series(x, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 4:
        raise BrainalignInputError(f"{what} must be (n_streams, n_words, n_units) with >= 4 words, got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise BrainalignInputError(f"{what} holds NaN or infinite activations.")
    return x


def _standardise(x: np.ndarray) -> np.ndarray:
    """z-score each unit's series within each stream: spectra become comparable across units.

    A constant unit becomes all zeros (no spectrum), never NaN.
    """
    centred = x - x.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, keepdims=True)
    return np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 1e-8 * (np.abs(x).max(axis=1, keepdims=True) + 1e-30))


def unit_spectra(series, word_rate: float, *, standardise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum of every unit, averaged over streams.

    Parameters
    ----------
    series : ndarray, shape (n_streams, n_words, n_units) or (n_words, n_units)
    word_rate : float
        Words per second (the sampling rate of the series).
    standardise : bool
        z-score every unit within every stream first (the tagging rule compares
        units, so their scales must not matter).

    Returns
    -------
    freqs : ndarray, shape (n_words // 2 + 1,)
    amplitude : ndarray, shape (n_freqs, n_units)

    Examples
    --------
    >>> t = np.arange(64)
    >>> x = np.stack([np.cos(2 * np.pi * t / 4), np.cos(2 * np.pi * t / 2)], axis=1)
    >>> freqs, amp = unit_spectra(x, word_rate=4.0)
    >>> float(freqs[amp[:, 0].argmax()]), float(freqs[amp[:, 1].argmax()])
    (1.0, 2.0)
    """
    x = _as_series(series, "series")
    if standardise:
        x = _standardise(x)
    n = x.shape[1]
    amp = np.abs(np.fft.rfft(x, axis=1)) * (2.0 / n)
    return np.fft.rfftfreq(n, d=1.0 / float(word_rate)), amp.mean(axis=0)


def _bins(rates: Mapping[str, float], word_rate: float, n_words: int) -> dict[str, int]:
    bins = {}
    for level, rate in rates.items():
        k = float(rate) * n_words / float(word_rate)
        if abs(k - round(k)) > 1e-6 or not 0 < round(k) <= n_words // 2:
            raise BrainalignInputError(
                f"The {level} rate {rate} Hz falls between frequency bins of a {n_words}-word stream at {word_rate} words/s "
                f"(bin {k:.3f}); use streams whose length is a multiple of the words per {level}."
            )
        bins[level] = int(round(k))
    return bins


def permutation_null(
    series,
    bins: Sequence[int],
    *,
    n_permutations: int = 1000,
    seed: int = 0,
    chunk_units: int = 4096,
    standardise: bool = True,
) -> np.ndarray:
    """Amplitude at frequency ``bins`` for random word orders of every stream (vectorised).

    Word ``j`` of a stream moved to position ``pos_p[j]`` contributes
    ``x_j exp(-2 pi i k pos_p[j] / n)`` to bin ``k``: the cosines and sines of
    all permutations form one ``(2 P, n_words)`` matrix per bin, applied to the
    activations with one GEMM per stream and chunk of units.  The same ``P``
    random orders are used for every stream (and every unit: the null keeps
    the dependence between units).

    Parameters
    ----------
    series : ndarray, shape (n_streams, n_words, n_units)
    bins : sequence of int
        FFT bin indices (``rate * n_words / word_rate``).
    n_permutations : int
    seed : int
    chunk_units : int
        Units per GEMM (bounds memory to ``2 P x len(bins) x chunk`` floats).

    Returns
    -------
    ndarray, shape (n_permutations, n_bins, n_units)
        Amplitudes (same scale as :func:`unit_spectra`), averaged over streams.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((2, 64, 5))
    >>> permutation_null(x, [16, 32], n_permutations=100).shape
    (100, 2, 5)
    """
    x = _as_series(series, "series")
    if standardise:
        x = _standardise(x)
    n_streams, n, n_units = x.shape
    bins = [int(b) for b in bins]
    if int(n_permutations) < 1:
        raise BrainalignInputError(f"n_permutations must be >= 1, got {n_permutations!r}.")
    rng = np.random.default_rng(seed)
    positions = np.argsort(rng.random((int(n_permutations), n)), axis=1)  # P random permutations at once
    phase = (2.0 * np.pi / n) * positions[:, None, :] * np.asarray(bins, dtype=np.float64)[None, :, None]
    basis = np.concatenate([np.cos(phase), np.sin(phase)], axis=0).astype(np.float32)  # (2P, K, N)
    P, K = int(n_permutations), len(bins)
    basis = basis.reshape(2 * P * K, n)
    out = np.zeros((P, K, n_units), dtype=np.float32)
    for start in range(0, n_units, int(chunk_units)):
        stop = min(start + int(chunk_units), n_units)
        for s in range(n_streams):
            coef = (basis @ x[s, :, start:stop]).reshape(2, P, K, stop - start)
            out[:, :, start:stop] += np.sqrt(coef[0] ** 2 + coef[1] ** 2)
    return out * (2.0 / n / n_streams)


# ------------------------------------------------------------------ tagging
@dataclass(eq=False)
class FrequencyTags:
    """Which units of which layers tag which structural level.

    Attributes
    ----------
    freqs : ndarray
        Frequency grid (Hz) of the spectra.
    rates : dict of str to float
        Tagged rate of every level.
    spectra, control_spectra : dict of layer to ndarray, shape (n_freqs, n_units)
        Stream-averaged amplitude spectra (standardised units).
    z : dict of level to dict of layer to ndarray
        z of experiment - control amplitude at the level's rate, over all units.
    null_threshold : dict of level to dict of layer to ndarray
        ``percentile`` of the permutation null per unit.
    p_values : dict of level to dict of layer to ndarray
        Permutation p of the experiment amplitude, ``(1 + #null >= obs) / (1 + P)``.
    tagged : dict of level to dict of layer to ndarray of bool
        Both criteria met.
    params : dict
    unit_means : dict of layer to ndarray, optional
        Mean activation of every unit over the experiment words (mean-ablation).
    """

    freqs: np.ndarray
    rates: dict[str, float]
    spectra: dict[str, np.ndarray]
    control_spectra: dict[str, np.ndarray]
    z: dict[str, dict[str, np.ndarray]]
    null_threshold: dict[str, dict[str, np.ndarray]]
    p_values: dict[str, dict[str, np.ndarray]]
    tagged: dict[str, dict[str, np.ndarray]]
    params: dict[str, Any] = field(default_factory=dict)
    unit_means: dict[str, np.ndarray] | None = None

    @property
    def layers(self) -> list[str]:
        return list(self.spectra)

    @property
    def levels(self) -> list[str]:
        return list(self.rates)

    def labels(self) -> dict[str, dict[str, np.ndarray]]:
        """Exclusive labels: one mask per level tagged alone, plus ``"shared"`` (two or more levels)."""
        count = {layer: sum(self.tagged[level][layer].astype(int) for level in self.levels) for layer in self.layers}
        out = {level: {layer: self.tagged[level][layer] & (count[layer] == 1) for layer in self.layers}
               for level in self.levels}
        if len(self.levels) > 1:
            out["shared"] = {layer: count[layer] >= 2 for layer in self.layers}
        return out

    def masks(self) -> dict[str, UnitMask]:
        """One :class:`UnitMask` per label (``sentence``, ``phrase``, ``shared``).

        They carry ``unit_type`` in their params, so :func:`ablate_units`,
        :func:`measure_deficit` and :func:`unit_brain_alignment` take them as
        they take localizer masks.  ``t_values`` hold the z of the level
        (the smallest over levels for ``shared``), ``p_values`` the permutation p
        (the largest over levels for ``shared``).
        """
        masks = {}
        for label, mask in self.labels().items():
            levels = self.levels if label == "shared" else [label]
            z = {layer: np.min([self.z[lv][layer] for lv in levels], axis=0) for layer in self.layers}
            p = {layer: np.max([self.p_values[lv][layer] for lv in levels], axis=0) for layer in self.layers}
            params = {**self.params, "selection": "frequency_tagging", "label": label,
                      "rates": {lv: self.rates[lv] for lv in levels}}
            masks[label] = UnitMask(mask, z, p, params, unit_means=self.unit_means)
        return masks

    def units_frame(self) -> pd.DataFrame:
        """One row per unit and level: ``layer``, ``unit``, ``level``, ``rate``, ``amplitude``,
        ``control_amplitude``, ``z``, ``null_threshold``, ``p``, ``tagged``."""
        parts = []
        for level, rate in self.rates.items():
            k = int(np.argmin(np.abs(self.freqs - rate)))
            for layer in self.layers:
                parts.append(pd.DataFrame({
                    "layer": layer, "unit": np.arange(self.spectra[layer].shape[1]), "level": level, "rate": rate,
                    "amplitude": self.spectra[layer][k], "control_amplitude": self.control_spectra[layer][k],
                    "z": self.z[level][layer], "null_threshold": self.null_threshold[level][layer],
                    "p": self.p_values[level][layer], "tagged": self.tagged[level][layer],
                }))
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Tagged units per layer and label (counts and fractions)."""
        rows = []
        for label, masks in self.labels().items():
            for layer, m in masks.items():
                rows.append({"label": label, "layer": layer, "n_units": m.size, "n_tagged": int(m.sum()),
                             "fraction": float(m.mean())})
        return pd.DataFrame(rows)

    def save(self, directory) -> Path:
        """Write ``tables/tagging_units.tsv``, ``tables/tagging_summary.tsv``, ``tagging.json``
        and one saved :class:`UnitMask` per label under ``masks/<label>/`` (atomic writes)."""
        from ..core import atomic_write_text, save_json

        directory = Path(directory)
        atomic_write_text(directory / "tables" / "tagging_units.tsv", self.units_frame().to_csv(sep="\t", index=False))
        atomic_write_text(directory / "tables" / "tagging_summary.tsv", self.summary().to_csv(sep="\t", index=False))
        for label, mask in self.masks().items():
            mask.save(directory / "masks" / label)
        save_json(directory / "tagging.json", {"params": self.params, "rates": self.rates, "layers": self.layers,
                                               "labels": list(self.labels())})
        return directory

    def __repr__(self) -> str:
        counts = ", ".join(f"{label}={sum(int(m.sum()) for m in masks.values())}" for label, masks in self.labels().items())
        return f"FrequencyTags(unit_type={self.params.get('unit_type')!r}, layers={len(self.layers)}, {counts})"


def tag_frequencies(
    experiment: Mapping[str, np.ndarray],
    control: Mapping[str, np.ndarray],
    *,
    word_rate: float,
    rates: Mapping[str, float],
    n_permutations: int = 1000,
    z_threshold: float = 2.0,
    percentile: float = 95.0,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> FrequencyTags:
    """Apply the HFTP rule to unit time series of paired experiment / control streams.

    Parameters
    ----------
    experiment, control : mapping of layer to ndarray, shape (n_streams, n_words, n_units)
        Same layers, same shapes (e.g. from :func:`stream_unit_series`).
    word_rate : float
    rates : mapping of level to Hz
        E.g. ``IsochronousStreams.rates`` (``{"sentence": 1.0, "phrase": 2.0}``).
    n_permutations, z_threshold, percentile, seed
        See the module docstring.

    Returns
    -------
    FrequencyTags

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(64)
    >>> exp = rng.standard_normal((2, 64, 50)).astype("float32")
    >>> exp[:, :, 0] += 3 * np.cos(2 * np.pi * t / 4)  # unit 0 follows the 4-word sentence
    >>> ctrl = rng.standard_normal((2, 64, 50)).astype("float32")
    >>> tags = tag_frequencies({"layer.0": exp}, {"layer.0": ctrl}, word_rate=4.0,
    ...                        rates={"sentence": 1.0, "phrase": 2.0}, n_permutations=200)
    >>> np.flatnonzero(tags.labels()["sentence"]["layer.0"]).tolist()
    [0]
    """
    from tqdm.auto import tqdm

    layers = list(experiment)
    if not layers:
        raise BrainalignInputError("tag_frequencies needs at least one layer of unit time series.")
    if list(control) != layers:
        raise BrainalignInputError(f"The control has layers {list(control)} but the experiment has {layers}.")
    if not rates:
        raise BrainalignInputError("rates is empty: give the tagged rate of every level, e.g. {'sentence': 1.0}.")
    if not 0 < percentile < 100:
        raise BrainalignInputError(f"percentile must be in (0, 100), got {percentile!r}.")
    exp = {layer: _as_series(experiment[layer], f"experiment[{layer!r}]") for layer in layers}
    ctrl = {layer: _as_series(control[layer], f"control[{layer!r}]") for layer in layers}
    for layer in layers:
        if exp[layer].shape != ctrl[layer].shape:
            raise BrainalignInputError(
                f"Layer {layer!r}: experiment series {exp[layer].shape} and control {ctrl[layer].shape} differ in shape."
            )
    n_words = exp[layers[0]].shape[1]
    bins = _bins(rates, word_rate, n_words)
    levels = list(rates)
    spectra, control_spectra, threshold, pvals, means = {}, {}, {lv: {} for lv in levels}, {lv: {} for lv in levels}, {}
    freqs = None
    for i, layer in enumerate(tqdm(layers, desc="tagging layers", disable=progress_disabled(), leave=False)):
        freqs, spectra[layer] = unit_spectra(exp[layer], word_rate)
        control_spectra[layer] = unit_spectra(ctrl[layer], word_rate)[1]
        # the same seed for every layer: one set of word orders for the whole model
        null = permutation_null(exp[layer], [bins[lv] for lv in levels], n_permutations=n_permutations, seed=seed)
        for j, level in enumerate(levels):
            obs = spectra[layer][bins[level]]
            threshold[level][layer] = np.percentile(null[:, j], percentile, axis=0)
            pvals[level][layer] = (1.0 + np.sum(null[:, j] >= obs[None] - 1e-7, axis=0)) / (1.0 + null.shape[0])
        means[layer] = exp[layer].mean(axis=(0, 1)).astype(np.float64)
    z, tagged = {}, {}
    for level in levels:
        diff = {layer: spectra[layer][bins[level]] - control_spectra[layer][bins[level]] for layer in layers}
        flat = np.concatenate(list(diff.values()))
        sd = flat.std()
        z[level] = {layer: (d - flat.mean()) / sd if sd > 0 else np.zeros_like(d) for layer, d in diff.items()}
        tagged[level] = {layer: (z[level][layer] > z_threshold) & (spectra[layer][bins[level]] > threshold[level][layer])
                         for layer in layers}
    all_params = {"word_rate": float(word_rate), "rates": {k: float(v) for k, v in rates.items()},
                  "n_permutations": int(n_permutations), "z_threshold": float(z_threshold),
                  "percentile": float(percentile), "seed": int(seed), "n_words": int(n_words),
                  "n_streams": int(exp[layers[0]].shape[0]), **dict(params or {})}
    all_params.setdefault("unit_type", "mlp")
    tags = FrequencyTags(freqs, {k: float(v) for k, v in rates.items()}, spectra, control_spectra, z, threshold,
                         pvals, tagged, all_params, means)
    logger.info("Frequency tagging: %s", tags)
    return tags


def tag_units(
    model,
    streams,
    *,
    tokenizer=None,
    unit_types: Sequence[str] = ("mlp", "residual"),
    n_permutations: int = 1000,
    z_threshold: float = 2.0,
    percentile: float = 95.0,
    seed: int = 0,
    context_tokens: int = 512,
    batch_size: int = 8,
) -> dict[str, FrequencyTags]:
    """Frequency-tag every MLP unit and residual dimension of a language model.

    Parameters
    ----------
    model : transformers model (with ``tokenizer=``), TextModel or str
    streams : IsochronousStreams
        From :func:`brainalign.stimuli.isochronous_streams`.
    unit_types : sequence of {"mlp", "residual"}
    n_permutations, z_threshold, percentile, seed
        The HFTP rule (see :func:`tag_frequencies`).
    context_tokens, batch_size
        Feature extraction (see :func:`stream_unit_series`).

    Returns
    -------
    dict of unit type to FrequencyTags
        ``tags["mlp"].masks()["sentence"]`` is a :class:`UnitMask` for
        :func:`ablate_units` / :func:`unit_brain_alignment`.

    Examples
    --------
    >>> from brainalign.stimuli import isochronous_streams
    >>> tags = tag_units(model, isochronous_streams(), tokenizer=tok)  # doctest: +SKIP
    >>> tags["mlp"].summary()  # doctest: +SKIP
    """
    for name in ("experiment", "control", "word_rate", "rates"):
        if not hasattr(streams, name):
            raise BrainalignInputError(
                f"streams must be an IsochronousStreams (brainalign.stimuli.isochronous_streams), got {type(streams).__name__}."
            )
    exp = stream_unit_series(model, streams.experiment, tokenizer=tokenizer, unit_types=unit_types,
                             context_tokens=context_tokens, batch_size=batch_size)
    ctrl = stream_unit_series(model, streams.control, tokenizer=tokenizer, unit_types=unit_types,
                              context_tokens=context_tokens, batch_size=batch_size)
    inner = getattr(model, "model", model)
    fingerprint = model_fingerprint(inner) if hasattr(inner, "forward") else str(model)
    out = {}
    for unit_type in unit_types:
        params = {"unit_type": unit_type, "model": model_name(inner), "model_fingerprint": fingerprint,
                  "streams": dict(getattr(streams, "params", {})), "context_tokens": int(context_tokens)}
        out[unit_type] = tag_frequencies(exp[unit_type], ctrl[unit_type], word_rate=streams.word_rate,
                                         rates=streams.rates, n_permutations=n_permutations, z_threshold=z_threshold,
                                         percentile=percentile, seed=seed, params=params)
    return out


# ---------------------------------------------------------------- model vs brain
def _rdm(patterns: np.ndarray) -> np.ndarray:
    """1 - Pearson correlation between the rows (items) of ``patterns``; constant rows count as uncorrelated."""
    x = patterns - patterns.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return 1.0 - x @ x.T


def spectra_rsa(
    model_spectra: Mapping[str, np.ndarray],
    model_freqs: np.ndarray,
    brain_spectrum: np.ndarray,
    brain_freqs: np.ndarray,
    *,
    fmin: float | None = None,
    fmax: float | None = None,
    n_permutations: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Representational similarity of model and brain spectra, per layer.

    Items are the frequency bins both spectra share (brain bins between
    ``fmin`` and ``fmax``, default from the lowest non-zero bin up to the model's
    Nyquist frequency, each matched to the nearest model bin); the pattern of
    an item is the amplitude of every unit (model) or channel (brain) at that
    frequency.  The representational dissimilarity matrices (1 - Pearson r
    between items) are compared by Spearman correlation of their upper
    triangles, and tested with a Mantel permutation of the brain items.
    (Computed with scipy; the representational-similarity stage is not used.)

    Parameters
    ----------
    model_spectra : mapping of layer to ndarray, shape (n_model_freqs, n_units)
        E.g. ``FrequencyTags.spectra``.
    model_freqs : ndarray
    brain_spectrum : ndarray, shape (n_channels, n_brain_freqs)
        E.g. from :func:`brainalign.recordings.itpc_spectrum`.
    brain_freqs : ndarray

    Returns
    -------
    DataFrame
        ``layer``, ``rho``, ``p``, ``n_items``.

    Examples
    --------
    >>> f = np.arange(0, 2.01, 0.25)
    >>> peaks = np.exp(-((f[:, None] - np.array([1.0, 2.0])) ** 2) / 0.01)  # two units: 1 Hz, 2 Hz
    >>> table = spectra_rsa({"layer.0": peaks}, f, peaks.T * 3, f, n_permutations=200)
    >>> bool(table.rho[0] > 0.9), bool(table.p[0] < 0.05)
    (True, True)
    """
    from scipy import stats

    model_freqs = np.asarray(model_freqs, dtype=np.float64)
    brain_freqs = np.asarray(brain_freqs, dtype=np.float64)
    brain = np.atleast_2d(np.asarray(brain_spectrum, dtype=np.float64))
    if brain.shape[1] != brain_freqs.size:
        raise BrainalignInputError(
            f"brain_spectrum has {brain.shape[1]} frequencies but brain_freqs has {brain_freqs.size}: pass (n_channels, n_freqs)."
        )
    lo = fmin if fmin is not None else max(model_freqs[1], brain_freqs[1])
    hi = fmax if fmax is not None else model_freqs[-1]
    items = np.flatnonzero((brain_freqs >= lo - 1e-9) & (brain_freqs <= hi + 1e-9))
    if items.size < 4:
        raise BrainalignInputError(
            f"Only {items.size} brain frequency bins lie in [{lo:.3g}, {hi:.3g}] Hz; RSA needs >= 4 (longer epochs or a wider range)."
        )
    model_bins = np.abs(model_freqs[None, :] - brain_freqs[items, None]).argmin(axis=1)
    tri = np.triu_indices(items.size, 1)
    brain_rdm = _rdm(brain[:, items].T)
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(items.size) for _ in range(int(n_permutations))]
    rows = []
    for layer, spectra in model_spectra.items():
        spectra = np.asarray(spectra, dtype=np.float64)
        if spectra.shape[0] != model_freqs.size:
            raise BrainalignInputError(f"model_spectra[{layer!r}] has {spectra.shape[0]} frequencies but model_freqs has {model_freqs.size}.")
        model_rdm = _rdm(spectra[model_bins])
        m = stats.rankdata(model_rdm[tri])
        rho = float(np.corrcoef(m, stats.rankdata(brain_rdm[tri]))[0, 1])
        null = np.array([np.corrcoef(m, stats.rankdata(brain_rdm[np.ix_(o, o)][tri]))[0, 1] for o in orders])
        p = (1.0 + np.sum(null >= rho - 1e-12)) / (1.0 + len(orders))
        rows.append({"layer": layer, "rho": rho, "p": float(p), "n_items": int(items.size)})
    return pd.DataFrame(rows)
