"""Brain-derived axes of a model's hidden states (after Andric 2025), fitted without leakage.

1. Brain states per word (fMRI responses, cross-validated encoding
   predictions, or M/EEG band-limited phase-locking from
   :func:`brainalign.recordings.phase_locking_states`) are decomposed into a few
   axes by ICA or PCA (scikit-learn) fitted on the **training words only**;
   every word's axis scores come from that fitted decomposition.
2. A ridge "adapter" maps the hidden states of the layer that will be steered
   onto the axes (penalty by inner cross-validation on the training words);
   its held-out r on the test words says how well the layer carries each axis.
3. The adapter's weights, mapped back to hidden-state space, give a steering
   direction per axis for :func:`brainalign.localize.steer` at that same
   layer (the published code fits the adapter on the last layer and steers a
   middle one, and builds the axes from in-sample predictions; neither is
   done here).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError

logger = logging.getLogger("brainalign.localize")

__all__ = ["BrainAxes", "fit_brain_axes"]


@dataclass(eq=False)
class BrainAxes:
    """Axes fitted on training words and the adapters that read them from a layer.

    Attributes
    ----------
    decomposition : sklearn estimator
        The fitted PCA / FastICA (on ``states[train]``, standardised with the
        training mean and SD in ``state_mean`` / ``state_scale``).
    scores : ndarray, shape (n_words, n_axes)
        Axis scores of every word from the fitted decomposition.
    predicted : ndarray, shape (n_words, n_axes)
        Adapter predictions (test words: held out; training words: in-sample).
    directions : ndarray, shape (n_axes, hidden_size)
        Unit-norm direction of each axis in hidden-state space: the adapter's
        ridge weights for that axis, divided by the hidden states' training SD
        (the gradient of the predicted axis score in raw units).
    held_out : DataFrame
        ``axis``, ``r`` (Pearson, test words), ``alpha``.
    train, test : ndarray of int
    params : dict
    """

    decomposition: Any
    state_mean: np.ndarray
    state_scale: np.ndarray
    scores: np.ndarray
    predicted: np.ndarray
    directions: np.ndarray
    held_out: pd.DataFrame
    train: np.ndarray
    test: np.ndarray
    adapter: Any = None
    params: dict[str, Any] = field(default_factory=dict)

    def transform_states(self, states) -> np.ndarray:
        """Axis scores of new brain states (standardised with the training statistics)."""
        states = np.asarray(states, dtype=np.float64)
        return self.decomposition.transform((states - self.state_mean) / self.state_scale)

    def predict(self, hidden) -> np.ndarray:
        """Axis scores the adapter reads from hidden states ``(n, hidden_size)``."""
        return self.adapter.predict(hidden)

    def __repr__(self) -> str:
        rs = ", ".join(f"{r.axis}: r={r.r:.2f}" for r in self.held_out.itertuples())
        return f"BrainAxes({self.params.get('method')}, {len(self.held_out)} axes, held-out {rs})"


def _split(n: int, train, test) -> tuple[np.ndarray, np.ndarray]:
    train = np.asarray(train)
    if train.dtype == bool:
        if train.size != n:
            raise BrainalignInputError(f"The boolean train mask has {train.size} entries but there are {n} words.")
        train = np.flatnonzero(train)
    train = np.unique(train.astype(int))
    test = np.setdiff1d(np.arange(n), train) if test is None else np.unique(np.asarray(test, dtype=int))
    if np.intersect1d(train, test).size:
        raise BrainalignInputError("train and test words overlap: the axes must be fitted without the test words.")
    if train.size < 10 or test.size < 3:
        raise BrainalignInputError(f"Need >= 10 training and >= 3 test words, got {train.size} and {test.size}.")
    if train.min() < 0 or max(train.max(), test.max()) >= n:
        raise BrainalignInputError(f"train/test indices must lie in [0, {n}).")
    return train, test


def fit_brain_axes(
    states,
    hidden,
    *,
    train,
    test=None,
    method: str = "pca",
    n_components: int = 4,
    alphas: Sequence[float] = tuple(np.logspace(-2, 5, 15)),
    n_inner_folds: int = 5,
    seed: int = 0,
) -> BrainAxes:
    """Decompose brain states into axes (training words) and fit ridge adapters from a layer to them.

    Parameters
    ----------
    states : ndarray, shape (n_words, n_features)
        Brain state of every word (voxels / ROIs, channel-pair PLVs, ...).
    hidden : ndarray, shape (n_words, hidden_size)
        The hidden states of the layer you will steer, one row per word (e.g.
        ``extract_text_features(...)["layer.6"]``).
    train : array of int or bool
        Training words (decomposition, standardisation and adapter fit).
    test : array of int, optional
        Held-out words; default all others.  Contiguous blocks of words are
        the honest choice for continuous recordings.
    method : {"pca", "ica"}
    n_components : int
    alphas : sequence of float
        Ridge penalties, chosen per axis by inner CV (``RidgeCV``).
    seed : int
        FastICA's random state.

    Returns
    -------
    BrainAxes

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> hidden = rng.standard_normal((300, 20))
    >>> states = hidden[:, :2] @ rng.standard_normal((2, 30)) + 0.1 * rng.standard_normal((300, 30))
    >>> axes = fit_brain_axes(states, hidden, train=np.arange(200), n_components=2)
    >>> bool((axes.held_out.r > 0.9).all())
    True
    """
    from sklearn.decomposition import PCA, FastICA
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold

    states = np.asarray(states, dtype=np.float64)
    hidden = np.asarray(hidden, dtype=np.float64)
    if states.ndim != 2 or hidden.ndim != 2:
        raise BrainalignInputError(f"states and hidden must be 2-D (words x features), got {states.shape} and {hidden.shape}.")
    if states.shape[0] != hidden.shape[0]:
        raise BrainalignInputError(f"states has {states.shape[0]} words but hidden has {hidden.shape[0]}; give one row per word.")
    if not (np.all(np.isfinite(states)) and np.all(np.isfinite(hidden))):
        raise BrainalignInputError("states or hidden hold NaN or infinite values.")
    if method not in ("pca", "ica"):
        raise BrainalignInputError(f"method must be 'pca' or 'ica', got {method!r}.")
    if not 1 <= int(n_components) <= min(states.shape[1], states.shape[0]):
        raise BrainalignInputError(f"n_components must be between 1 and {min(states.shape)}, got {n_components!r}.")
    train, test = _split(states.shape[0], train, test)
    mean, scale = states[train].mean(axis=0), states[train].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    decomposition = (PCA(n_components=int(n_components)) if method == "pca"
                     else FastICA(n_components=int(n_components), random_state=seed, whiten="unit-variance", max_iter=1000))
    decomposition.fit((states[train] - mean) / scale)
    scores = decomposition.transform((states - mean) / scale)
    h_mean, h_scale = hidden[train].mean(axis=0), hidden[train].std(axis=0)
    h_scale = np.where(h_scale > 0, h_scale, 1.0)
    z = (hidden - h_mean) / h_scale
    # one RidgeCV per axis: scikit-learn gives per-target penalties only with leave-one-out, and
    # contiguous K-fold keeps neighbouring (autocorrelated) words in the same inner fold
    fits = [RidgeCV(alphas=np.asarray(alphas, dtype=float), cv=KFold(int(n_inner_folds))).fit(z[train], scores[train, k])
            for k in range(scores.shape[1])]
    coef = np.stack([f.coef_ for f in fits])
    intercept = np.array([f.intercept_ for f in fits])

    class _Adapter:  # predicts axis scores from raw hidden states with the training standardisation
        def predict(self, h):
            return ((np.asarray(h, dtype=np.float64) - h_mean) / h_scale) @ coef.T + intercept

    adapter = _Adapter()
    predicted = adapter.predict(hidden)
    rows = []
    for k in range(scores.shape[1]):
        r = np.corrcoef(predicted[test, k], scores[test, k])[0, 1] if np.std(predicted[test, k]) > 0 else 0.0
        rows.append({"axis": f"axis.{k}", "r": float(r), "alpha": float(fits[k].alpha_)})
    directions = coef / h_scale[None, :]
    directions = directions / np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-30)

    axes = BrainAxes(decomposition, mean, scale, scores, predicted, directions, pd.DataFrame(rows), train, test,
                     adapter, {"method": method, "n_components": int(n_components), "seed": int(seed),
                                     "n_train": int(train.size), "n_test": int(test.size)})
    logger.info("%s", axes)
    return axes
