"""Cross-validation splitters for time series: whole runs or contiguous blocks with gaps.

Neighbouring samples of brain data are correlated (slow haemodynamics, drifts),
so a test sample must never have a training sample a few seconds away: that is
how shuffled K-fold lets a model that only knows "what time it is" score high.
Splitters here follow scikit-learn: ``split(X, y=None, groups=None)`` yields
``(train, test)`` index arrays, with the run label of every row as ``groups``
(``X`` may also be the number of rows), and ``get_n_splits(X, y, groups)``.
Any scikit-learn splitter (``GroupKFold``, ``LeaveOneGroupOut``, ...) is accepted
where these are.
"""

from __future__ import annotations

import logging
import warnings
from typing import Iterator, Sequence

import numpy as np

from ..core import BrainalignInputError
from ..core.validation import ordered_unique, run_labels

logger = logging.getLogger("brainalign.encoding")

SHUFFLED_CV_WARNING = (
    "Shuffled K-fold puts temporally adjacent samples in train and test sets; with autocorrelated "
    "brain data this inflates scores (even a model that only encodes time scores high). Use it only "
    "to reproduce that effect."
)


def _n_splits(n_splits, n_samples) -> int:
    """A splitter's fold count as an int in [2, n_samples], or a clear error naming both."""
    if isinstance(n_splits, (bool, np.bool_)) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise BrainalignInputError(f"n_splits must be an int >= 2, got {n_splits!r}.")
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise BrainalignInputError(f"n_samples must be an int >= 0, got {n_samples!r}.")
    if n_splits > n_samples:
        raise BrainalignInputError(f"{n_samples} samples are too few for n_splits={n_splits} folds.")
    return int(n_splits)


def _no_runs_as_y(y, groups, owner: str) -> None:
    """The old call ``split(n_samples, runs)`` now passes the runs as ``y``: refuse it rather than ignore the runs."""
    if y is not None and groups is None and np.asarray(y).dtype.kind in "OUS":
        raise BrainalignInputError(
            f"{owner}.split(X, y, groups): run labels go in groups= (scikit-learn's protocol), e.g. "
            f"split(X, groups=runs); got string labels as y.")


def n_rows(X) -> int:
    """Rows of ``X`` for a splitter: ``X`` is an array-like or the number of rows itself."""
    if isinstance(X, (int, np.integer)) and not isinstance(X, (bool, np.bool_)):
        return int(X)
    if X is None:
        raise BrainalignInputError("split() needs X (the design rows, or their number).")
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _segments(runs: np.ndarray) -> list[np.ndarray]:
    """Row indices of each contiguous run block, in order."""
    runs = np.asarray(runs)
    changes = np.flatnonzero(runs[1:] != runs[:-1]) + 1
    bounds = np.concatenate([[0], changes, [runs.size]])
    return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class LeaveOneRunOut:
    """Each run is the test set once; all other runs train.

    Examples
    --------
    >>> cv = LeaveOneRunOut()
    >>> [test.tolist() for _, test in cv.split(4, groups=["a", "a", "b", "b"])]
    [[0, 1], [2, 3]]
    """

    def split(self, X, y=None, groups: Sequence[str] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        _no_runs_as_y(y, groups, "LeaveOneRunOut")
        n_samples = n_rows(X)
        runs = run_labels(groups, n_samples)
        labels = ordered_unique(runs)
        if len(labels) < 2:
            raise BrainalignInputError(
                f"LeaveOneRunOut needs at least two runs, got {labels}; use ContiguousBlockCV for one run."
            )
        for label in labels:
            test = np.flatnonzero(runs == label)
            yield np.flatnonzero(runs != label), test

    def get_n_splits(self, X=None, y=None, groups: Sequence[str] | None = None) -> int:
        if groups is None:
            raise BrainalignInputError("LeaveOneRunOut.get_n_splits needs groups (the run label of every row).")
        return len(ordered_unique(run_labels(groups, len(groups))))

    def __repr__(self) -> str:
        return "LeaveOneRunOut()"


class ContiguousBlockCV:
    """K contiguous test blocks; training rows closer than ``gap`` samples to the block are dropped.

    The rows (all runs concatenated) are cut into ``n_splits`` blocks of
    near-equal length.  Training rows within ``gap`` samples of the test block
    *in the same run* are removed on both sides, so that no training sample
    shares haemodynamic (or TRF) history with a test sample.

    Parameters
    ----------
    n_splits : int
    gap : int
        Samples excluded on each side of the test block (e.g. HRF length / TR).

    Examples
    --------
    >>> cv = ContiguousBlockCV(n_splits=2, gap=1)
    >>> [(tr.tolist(), te.tolist()) for tr, te in cv.split(6)]
    [([4, 5], [0, 1, 2]), ([0, 1], [3, 4, 5])]
    """

    def __init__(self, n_splits: int = 5, gap: int = 0):
        self.n_splits = n_splits
        self.gap = gap

    def split(self, X, y=None, groups: Sequence[str] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        _no_runs_as_y(y, groups, "ContiguousBlockCV")
        n_samples = n_rows(X)
        runs = groups
        k = _n_splits(self.n_splits, n_samples)
        if isinstance(self.gap, (bool, np.bool_)) or not isinstance(self.gap, (int, np.integer)) or self.gap < 0:
            raise BrainalignInputError(f"gap must be an int >= 0 samples, got {self.gap!r}.")
        runs = run_labels(runs, n_samples)
        gap = int(self.gap)
        bounds = np.linspace(0, n_samples, k + 1).round().astype(int)
        segment_id = np.empty(n_samples, dtype=int)
        for k, seg in enumerate(_segments(runs)):
            segment_id[seg] = k
        positions = np.arange(n_samples)
        for a, b in zip(bounds[:-1], bounds[1:]):
            if b <= a:
                raise BrainalignInputError(f"{n_samples} samples are too few for {self.n_splits} blocks.")
            test = positions[a:b]
            drop = np.zeros(n_samples, dtype=bool)
            drop[a:b] = True
            # the gap extends only within the run that touches each end of the block
            lo = slice(max(0, a - gap), a)
            drop[lo] |= segment_id[lo] == segment_id[a]
            hi = slice(b, min(n_samples, b + gap))
            drop[hi] |= segment_id[hi] == segment_id[b - 1]
            train = positions[~drop]
            if train.size == 0:
                raise BrainalignInputError(
                    f"With gap={gap} samples no training data is left for test block [{a}, {b}); "
                    f"reduce the gap or the number of splits."
                )
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return int(self.n_splits)

    def __repr__(self) -> str:
        return f"ContiguousBlockCV(n_splits={self.n_splits}, gap={self.gap})"


class ShuffledKFold:
    """Random K-fold over samples.  Leaks temporal autocorrelation: for demonstrations only.

    Instantiating it emits a warning (also recorded in encoding results).
    """

    def __init__(self, n_splits: int = 5, seed: int = 0):
        self.n_splits = n_splits
        self.seed = seed
        warnings.warn(SHUFFLED_CV_WARNING, UserWarning, stacklevel=2)
        logger.warning(SHUFFLED_CV_WARNING)

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n_samples = n_rows(X)
        k = _n_splits(self.n_splits, n_samples)
        yield from _shuffled_splits(n_samples, k, self.seed)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return int(self.n_splits)

    def __repr__(self) -> str:
        return f"ShuffledKFold(n_splits={self.n_splits}, seed={self.seed})"


def _shuffled_splits(n_samples: int, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random K-fold (train, test) pairs, test indices sorted (no warning: see :class:`ShuffledKFold`)."""
    order = np.random.default_rng(seed).permutation(n_samples)
    tests = [np.sort(test) for test in np.array_split(order, n_splits)]
    return [(np.setdiff1d(np.arange(n_samples), test), test) for test in tests]


def inner_splits(train_rows: np.ndarray, runs: np.ndarray, n_splits: int, gap: int,
                 shuffle: bool = False, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner folds over the training rows of an outer fold (positions into ``train_rows``).

    Blocks are contiguous in time; a break in ``train_rows`` (the removed test
    block) counts as a run boundary so the gap is never applied across it.
    """
    train_rows = np.asarray(train_rows)
    n = train_rows.size
    if isinstance(n_splits, (bool, np.bool_)) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise BrainalignInputError(f"inner_cv must be an int >= 2 inner folds, got {n_splits!r}.")
    n_splits = int(n_splits)
    if n_splits > n:
        # clipping the fold count silently used to leave one-sample folds and alphas at the grid's edge
        raise BrainalignInputError(
            f"inner_cv={n_splits} inner folds need at least {n_splits} training samples, got n={n}; "
            f"use fewer inner folds or more data."
        )
    if shuffle:
        return _shuffled_splits(n, n_splits, seed)
    segment = np.concatenate([[0], np.cumsum(np.diff(train_rows) != 1)])
    labels = np.array([f"{r}#{s}" for r, s in zip(np.asarray(runs)[train_rows], segment)], dtype=object)
    try:
        return list(ContiguousBlockCV(n_splits, gap).split(n, groups=labels))
    except BrainalignInputError as err:
        raise BrainalignInputError(
            f"Inner cross-validation ({n_splits} blocks, gap {gap} samples) of {n} training samples failed: "
            f"{err} Use fewer inner folds (inner_cv), a smaller gap_s, or more data."
        ) from err


def resolve_outer_cv(cv, runs: np.ndarray, gap: int, shuffle: bool, seed: int):
    """Turn ``cv`` ("auto", int, or a splitter) into a splitter object."""
    n_runs = len(ordered_unique(runs))
    if shuffle:
        n_splits = cv if isinstance(cv, int) else 5
        return ShuffledKFold(n_splits, seed)
    if isinstance(cv, str):
        if cv != "auto":
            raise BrainalignInputError(f"cv must be 'auto', an int or a splitter, got {cv!r}.")
        return LeaveOneRunOut() if n_runs >= 2 else ContiguousBlockCV(5, gap)
    if isinstance(cv, (int, np.integer)):
        return ContiguousBlockCV(int(cv), gap)
    if isinstance(cv, dict):
        return splitter_from_spec(cv)
    if hasattr(cv, "split"):
        return cv
    raise BrainalignInputError(f"cv must be 'auto', an int or a splitter with split(X, y, groups), got {cv!r}.")


def splitter_from_spec(spec: dict):
    """A splitter from a JSON/TOML-friendly spec: ``{"splitter": "module:Class", **its options}``.

    This is how a study's ``[encoding] cv`` names any scikit-learn (or own) splitter.

    Examples
    --------
    >>> splitter_from_spec({"splitter": "sklearn.model_selection:GroupKFold", "n_splits": 3})
    GroupKFold(n_splits=3)
    """
    import importlib

    options = dict(spec)
    target = options.pop("splitter", None)
    if not isinstance(target, str) or ":" not in target:
        raise BrainalignInputError(
            f"cv = {spec!r}: a splitter spec needs splitter = 'module:Class' (e.g. "
            "'sklearn.model_selection:GroupKFold') and the class's options.")
    module, _, name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise BrainalignInputError(f"cv splitter {target!r} cannot be imported: {err}") from None
    try:
        splitter = cls(**options)
    except TypeError as err:
        raise BrainalignInputError(f"cv splitter {target!r} does not take the options {options}: {err}") from None
    if not hasattr(splitter, "split"):
        raise BrainalignInputError(f"cv splitter {target!r} has no split(X, y, groups) method.")
    return splitter


def contiguity_groups(rows: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Run label of each of ``rows``, split where ``rows`` skip (a removed test block): inner CV
    then never applies its gap across the hole, exactly as :func:`inner_splits` does."""
    rows = np.asarray(rows)
    segment = np.concatenate([[0], np.cumsum(np.diff(rows) != 1)]) if rows.size else np.zeros(0, int)
    return np.array([f"{r}#{s}" for r, s in zip(np.asarray(runs)[rows], segment)], dtype=object)
